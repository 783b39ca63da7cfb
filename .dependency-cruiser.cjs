/**
 * The dependency rule (docs/architecture.md), checked by `npm run check:deps`, part of `npm test`.
 * Layers, top to bottom; an import may only point down (or stay in its own folder):
 *   main.ts, server.ts, cli/          entry points: wire everything together
 *   api/, stream/                     HTTP routes, gRPC and WebSocket streaming
 *   jobs/                             long-form jobs: store, queue, worker, callbacks
 *   clova/, domains/                  CLOVA's wire format; domains (secrets, auth, boostings)
 *   speech/, media/, transcript/      engines and models; audio in; text out
 *   net/, config.ts, logger.ts, process-priority.ts, audio.ts (the 16 kHz sample rate)
 */
const LOWER_THAN_JOBS = '^src/(clova|domains|speech|media|transcript|net)/|^src/(config|logger|process-priority|audio)[.]ts$';
const CORE = '^src/(speech|media|transcript)/';
const BASE = '^src/net/|^src/(config|logger|process-priority|proc-stat|audio)[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'An import cycle: break it with a types module or by moving the shared part down.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'api-is-a-leaf',
      comment: 'Routes are wired in by server.ts alone; nothing else imports api/.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/api/', '^src/server[.]ts$'] },
      to: { path: '^src/api/' },
    },
    {
      name: 'stream-is-a-leaf',
      comment: 'Streaming is wired in by server.ts and main.ts alone.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/stream/', '^src/(server|main)[.]ts$'] },
      to: { path: '^src/stream/' },
    },
    {
      name: 'jobs-below-routes',
      comment: 'Only routes, streams and the entry points use jobs/.',
      severity: 'error',
      from: { path: LOWER_THAN_JOBS },
      to: { path: '^src/jobs/' },
    },
    {
      name: 'wire-format-above-core',
      comment: 'speech/, media/ and transcript/ know nothing of CLOVA\'s wire format or of domains.',
      severity: 'error',
      from: { path: [CORE, BASE] },
      to: { path: '^src/(clova|domains)/' },
    },
    {
      name: 'base-is-the-bottom',
      comment: 'config, logging, networking, process priority and /proc reading import nothing of Sori above them.',
      severity: 'error',
      from: { path: BASE },
      to: { path: '^src/', pathNot: BASE },
    },
    {
      name: 'entry-points-are-not-imported',
      comment: 'main.ts, server.ts and the CLI are wired from outside only.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/cli/', '^src/main[.]ts$'] },
      to: { path: ['^src/(main|server)[.]ts$', '^src/cli/'] },
    },
    {
      name: 'src-does-not-import-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
