import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStreamedWav } from '../../../src/speech/tts/espeak-voice.js';

/** A WAV as espeak-ng streams it: RIFF and data sizes are placeholders. */
function streamedWav(samples: number[], rate = 22050): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(0x7ffff024, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(0x7ffff000, 40);
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, 2 * i));
  return Buffer.concat([header, data]);
}

describe('parseStreamedWav', () => {
  it('reads the data chunk to the end of the output, whatever its declared size', () => {
    const { pcm, sampleRate } = parseStreamedWav(streamedWav([0, 16384, -32768]));
    assert.equal(sampleRate, 22050);
    assert.deepEqual([...pcm], [0, 0.5, -1]);
  });

  it('refuses what is not a 16-bit mono WAV', () => {
    assert.throws(() => parseStreamedWav(Buffer.from('not a wav at all')), /did not write a WAV/);
    const stereo = streamedWav([0, 0]);
    stereo.writeUInt16LE(2, 22);
    assert.throws(() => parseStreamedWav(stereo), /unexpected WAV/);
  });
});
