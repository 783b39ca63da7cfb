import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.ByteString;
import com.nbp.cdncp.nest.grpc.proto.v1.NestConfig;
import com.nbp.cdncp.nest.grpc.proto.v1.NestData;
import com.nbp.cdncp.nest.grpc.proto.v1.NestRequest;
import com.nbp.cdncp.nest.grpc.proto.v1.NestResponse;
import com.nbp.cdncp.nest.grpc.proto.v1.NestServiceGrpc;
import com.nbp.cdncp.nest.grpc.proto.v1.RequestType;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.entity.mime.MultipartEntityBuilder;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.io.entity.StringEntity;
import org.apache.hc.core5.http.message.BasicHeader;
import org.apache.hc.core5.util.Timeout;

/**
 * CLOVA Speech clients in Java, run by test/compat/java-clients.int.test.ts against the
 * compatibility stage (test/compat/harness.ts), written the way Java users talk to CLOVA:
 *
 * <ul>
 *   <li>long-form upload like NAVER's Java sample: Apache HttpClient's MultipartEntityBuilder
 *       with the media part typed {@code multipart/form-data} and {@code params} a text body typed
 *       {@code application/json}; sync, and async with a callback then GET polling;
 *   <li>long-form upload with {@code java.net.http} and a hand-built multipart body whose
 *       {@code params} is a file part ({@code params.json}, {@code application/json; charset=UTF-8});
 *   <li>{@code /recognizer/url} with {@code Content-Type: application/json;UTF-8} and
 *       {@code /recognizer/object-storage} with {@code dataKey};
 *   <li>the short API with HttpURLConnection and {@code application/octet-stream}, like NAVER's
 *       short-recognition sample;
 *   <li>NestService over grpc-java with {@code Authorization: Bearer} metadata, 1 s PCM chunks,
 *       and a wrong secret that must be refused with UNAUTHENTICATED.
 * </ul>
 *
 * Prints one JSON line per answer: {"client","shape","schema","status","body"[,"callbackFor"]};
 * the harness checks each body against the named CLOVA schema ({@code null}: gRPC, checked here).
 * Exits 1 with a message on the first expectation that fails.
 */
public final class ClovaClients {
  private static final String CLIENT = "java";
  /** NAVER's sample serialises its request entity with a plain Gson: nulls are left out. */
  private static final Gson PARAMS_GSON = new Gson();
  private static final Gson OUT_GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
  private static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
  private static final Duration LONG = Duration.ofMinutes(10);
  private static final int CHUNK_BYTES = 32_000;

  private final String soriUrl = env("SORI_URL");
  private final String secret = env("SORI_KEY");
  private final String grpcTarget = env("SORI_GRPC");
  private final File media = new File(env("MEDIA_PATH"));
  private final String mediaUrl = env("MEDIA_URL");
  private final String objectKey = env("OBJECT_KEY");
  private final String callbackUrl = env("CALLBACK_URL");
  private final File pcm = new File(env("PCM_PATH"));

  private final CloseableHttpClient apache = HttpClients.custom()
      .setConnectionManager(PoolingHttpClientConnectionManagerBuilder.create()
          .setDefaultConnectionConfig(ConnectionConfig.custom().setSocketTimeout(Timeout.of(LONG)).build())
          .build())
      .setDefaultRequestConfig(RequestConfig.custom().setResponseTimeout(Timeout.of(LONG)).build())
      .build();
  /**
   * As a Java user builds it: the defaults, HTTP/2 preferred, so every request to an http:// URL
   * carries {@code Connection: Upgrade, HTTP2-Settings} and {@code Upgrade: h2c} (a server without
   * HTTP/2 must answer it as HTTP/1.1). The stage's HTTP server mounts no WebSocket route; `sori`
   * does, and then Node hands such requests to the upgrade handler and their bodies are lost.
   */
  private final HttpClient javaNet = HttpClient.newHttpClient();

  /** An expectation that failed: the message says which shape and what was wrong. */
  private static final class Failure extends RuntimeException {
    Failure(String message) {
      super(message);
    }
  }

  private record Answer(int status, String contentType, String text) {
    JsonElement json(String shape) {
      try {
        return JsonParser.parseString(text);
      } catch (RuntimeException e) {
        throw new Failure(shape + ": HTTP " + status + " answered a body that is not JSON (" + contentType + "): " + snippet(text));
      }
    }
  }

  public static void main(String[] args) {
    int code = 0;
    try {
      new ClovaClients().run();
    } catch (Failure f) {
      System.err.println("FAILED: " + f.getMessage());
      code = 1;
    } catch (Exception e) {
      e.printStackTrace();
      System.err.println("FAILED: " + e);
      code = 1;
    }
    OUT.flush();
    System.exit(code);
  }

  private void run() throws Exception {
    uploadApacheSync();
    uploadJavaNetParamsFileSync();
    urlSync();
    objectStorageSync();
    shortApi();
    uploadApacheAsyncWithCallback();
    grpcRecognize();
    grpcWrongSecret();
  }

  // ---------------------------------------------------------------- long-form, REST

  /** Request params as NAVER's NestRequestEntity carries them (a map here; Gson drops nulls). */
  private static Map<String, Object> params(String completion, String userdata) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("language", "en-US");
    p.put("completion", completion);
    p.put("callback", null);
    p.put("userdata", userdata);
    p.put("wordAlignment", true);
    p.put("fullText", true);
    p.put("diarization", Map.of("enable", false));
    return p;
  }

  /** The sample's HEADERS: Accept and the secret. */
  private Header[] sampleHeaders() {
    return new Header[] {new BasicHeader("Accept", "application/json"), new BasicHeader("X-CLOVASPEECH-API-KEY", secret)};
  }

  private void uploadApacheSync() throws IOException {
    String shape = "upload-sync:apache-MultipartEntityBuilder";
    String userdata = "java-apache-sync";
    HttpPost post = new HttpPost(soriUrl + "/recognizer/upload");
    post.setHeaders(sampleHeaders());
    HttpEntity entity = MultipartEntityBuilder.create()
        .addTextBody("params", PARAMS_GSON.toJson(params("sync", userdata)), ContentType.APPLICATION_JSON)
        .addBinaryBody("media", media, ContentType.MULTIPART_FORM_DATA, media.getName())
        .build();
    post.setEntity(entity);
    Answer a = apache(post);
    print(shape, "longformCompleted", a, null);
    expectCompleted(shape, a, userdata, "sync");
  }

  private void uploadJavaNetParamsFileSync() throws IOException, InterruptedException {
    String shape = "upload-sync:java.net.http-params-file-part";
    String userdata = "java-net-http-sync";
    String boundary = "----SoriJava" + UUID.randomUUID().toString().replace("-", "");
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    // media first, params after it: a streaming server must not need params before the media.
    ascii(body, "--" + boundary + "\r\n"
        + "Content-Disposition: form-data; name=\"media\"; filename=\"" + media.getName() + "\"\r\n"
        + "Content-Type: audio/flac\r\n\r\n");
    body.write(Files.readAllBytes(media.toPath()));
    ascii(body, "\r\n--" + boundary + "\r\n"
        + "Content-Disposition: form-data; name=\"params\"; filename=\"params.json\"\r\n"
        + "Content-Type: application/json; charset=UTF-8\r\n\r\n");
    body.write(PARAMS_GSON.toJson(params("sync", userdata)).getBytes(StandardCharsets.UTF_8));
    ascii(body, "\r\n--" + boundary + "--\r\n");
    HttpRequest request = HttpRequest.newBuilder(URI.create(soriUrl + "/recognizer/upload"))
        .timeout(LONG)
        .header("X-CLOVASPEECH-API-KEY", secret)
        .header("Content-Type", "multipart/form-data; boundary=" + boundary)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
        .build();
    Answer a = javaNet(request);
    print(shape, "longformCompleted", a, null);
    expectCompleted(shape, a, userdata, "sync");
  }

  private void urlSync() throws IOException {
    String shape = "url-sync:apache-json;UTF-8";
    String userdata = "java-url-sync";
    Map<String, Object> body = params("sync", userdata);
    body.put("url", mediaUrl);
    HttpPost post = new HttpPost(soriUrl + "/recognizer/url");
    post.setHeaders(sampleHeaders());
    post.setHeader("Content-Type", "application/json;UTF-8");
    post.setEntity(new StringEntity(PARAMS_GSON.toJson(body), StandardCharsets.UTF_8));
    Answer a = apache(post);
    print(shape, "longformCompleted", a, null);
    expectCompleted(shape, a, userdata, "sync");
  }

  private void objectStorageSync() throws IOException, InterruptedException {
    String shape = "object-storage-sync:java.net.http-dataKey";
    String userdata = "java-object-storage-sync";
    Map<String, Object> body = params("sync", userdata);
    body.put("dataKey", objectKey);
    HttpRequest request = HttpRequest.newBuilder(URI.create(soriUrl + "/recognizer/object-storage"))
        .timeout(LONG)
        .header("X-CLOVASPEECH-API-KEY", secret)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(PARAMS_GSON.toJson(body), StandardCharsets.UTF_8))
        .build();
    Answer a = javaNet(request);
    print(shape, "longformCompleted", a, null);
    expectCompleted(shape, a, userdata, "sync");
  }

  private void uploadApacheAsyncWithCallback() throws IOException, InterruptedException {
    String shape = "upload-async-callback:apache-MultipartEntityBuilder";
    String userdata = "java-apache-async";
    Map<String, Object> p = params("async", userdata);
    p.put("callback", callbackUrl);
    HttpPost post = new HttpPost(soriUrl + "/recognizer/upload");
    post.setHeaders(sampleHeaders());
    post.setEntity(MultipartEntityBuilder.create()
        .addTextBody("params", PARAMS_GSON.toJson(p), ContentType.APPLICATION_JSON)
        .addBinaryBody("media", media, ContentType.MULTIPART_FORM_DATA, media.getName())
        .build());
    Answer accepted = apache(post);
    JsonObject acc = object(shape, accepted);
    String token = string(acc, "token");
    print(shape, "longformAccepted", accepted, token);
    expect(accepted.status() == 200, shape, "HTTP " + accepted.status() + ": " + snippet(accepted.text()));
    expect("SUCCEEDED".equals(string(acc, "result")), shape, "result is " + acc.get("result") + ", want SUCCEEDED (async accepted)");
    expect(token != null && token.matches("[0-9a-f]{32}"), shape, "no 32-hex token: " + snippet(accepted.text()));

    // GET /recognizer/{token} until it is done; each in-progress state is printed once.
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    List<String> seen = new ArrayList<>();
    while (true) {
      HttpGet get = new HttpGet(soriUrl + "/recognizer/" + token);
      get.setHeaders(sampleHeaders());
      Answer polled = apache(get);
      JsonObject o = object("status-poll", polled);
      String result = string(o, "result");
      if ("COMPLETED".equals(result) || "SUCCEEDED".equals(result)) {
        String s = "status-completed:apache-get";
        print(s, "longformCompleted", polled, null);
        expectCompleted(s, polled, userdata, "async");
        return;
      }
      expect("WAITING".equals(result) || "PROCESSING".equals(result), "status-poll",
          "HTTP " + polled.status() + ", result " + result + " while polling: " + snippet(polled.text()));
      if (!seen.contains(result)) {
        seen.add(result);
        print("status-pending:apache-get", "longformPending", polled, null);
      }
      expect(System.nanoTime() < until, "status-poll", "job " + token + " still " + result + " after 5 minutes");
      Thread.sleep(300);
    }
  }

  private void shortApi() throws IOException {
    String shape = "short-stt:HttpURLConnection-octet-stream";
    // NAVER's short-recognition sample: HttpURLConnection, octet-stream, the file copied in 4 KiB.
    HttpURLConnection conn = (HttpURLConnection) new URL(soriUrl + "/recog/v1/stt?lang=Eng").openConnection();
    conn.setUseCaches(false);
    conn.setDoOutput(true);
    conn.setDoInput(true);
    conn.setReadTimeout((int) LONG.toMillis());
    conn.setRequestProperty("Content-Type", "application/octet-stream");
    conn.setRequestProperty("X-CLOVASPEECH-API-KEY", secret);
    try (OutputStream out = conn.getOutputStream(); InputStream in = Files.newInputStream(media.toPath())) {
      byte[] buffer = new byte[4096];
      int n;
      while ((n = in.read(buffer)) != -1) out.write(buffer, 0, n);
    }
    int status = conn.getResponseCode();
    InputStream stream = status < 400 ? conn.getInputStream() : conn.getErrorStream();
    String text = stream == null ? "" : new String(stream.readAllBytes(), StandardCharsets.UTF_8);
    Answer a = new Answer(status, conn.getContentType(), text);
    conn.disconnect();
    print(shape, status == 200 ? "shortSuccess" : "shortError", a, null);
    expect(status == 200, shape, "HTTP " + status + ": " + snippet(text));
    JsonObject o = object(shape, a);
    String recognized = string(o, "text");
    expect(recognized != null && recognized.toLowerCase(Locale.ROOT).contains("ask not"), shape,
        "text does not contain \"ask not\": " + o.get("text"));
  }

  /** A finished long-form result whose params show that the request's params were honoured. */
  private void expectCompleted(String shape, Answer a, String userdata, String completion) {
    expect(a.status() == 200, shape, "HTTP " + a.status() + ": " + snippet(a.text()));
    JsonObject o = object(shape, a);
    String result = string(o, "result");
    expect("COMPLETED".equals(result) || "SUCCEEDED".equals(result), shape,
        "result is " + result + ", want COMPLETED (was \"completion\":\"" + completion + "\" dropped?): " + snippet(a.text()));
    expect(o.get("params") != null && o.get("params").isJsonObject(), shape, "no params object in the result");
    JsonObject params = o.getAsJsonObject("params");
    expect("en".equals(string(params, "lang")), shape,
        "params.lang is " + params.get("lang") + ", want \"en\": \"language\":\"en-US\" was not honoured");
    expect(completion.equals(string(params, "completion")), shape,
        "params.completion is " + params.get("completion") + ", want \"" + completion + "\"");
    JsonElement diarization = params.get("diarization");
    expect(diarization != null && diarization.isJsonObject() && diarization.getAsJsonObject().has("enable")
        && !diarization.getAsJsonObject().get("enable").getAsBoolean(), shape,
        "params.diarization is " + diarization + ", want enable:false as asked");
    JsonElement echoed = params.get("userdata");
    expect(echoed != null && echoed.isJsonPrimitive() && echoed.getAsJsonPrimitive().isString() && userdata.equals(echoed.getAsString()),
        shape, "params.userdata is " + echoed + ", want the string \"" + userdata + "\" echoed");
    String text = string(o, "text");
    expect(text != null && text.toLowerCase(Locale.ROOT).contains("ask not"), shape,
        "text does not contain \"ask not\": " + o.get("text"));
  }

  private Answer apache(ClassicHttpRequest request) throws IOException {
    return apache.execute(request, response -> {
      HttpEntity e = response.getEntity();
      String text = e == null ? "" : EntityUtils.toString(e, StandardCharsets.UTF_8);
      Header ct = response.getFirstHeader("Content-Type");
      return new Answer(response.getCode(), ct == null ? null : ct.getValue(), text);
    });
  }

  private Answer javaNet(HttpRequest request) throws IOException, InterruptedException {
    HttpResponse<String> r = javaNet.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    return new Answer(r.statusCode(), r.headers().firstValue("Content-Type").orElse(null), r.body());
  }

  // ---------------------------------------------------------------- streaming, gRPC

  /** What one NestService call ended with: every response and the final status. */
  private record Call(List<String> contents, Status status) {}

  private Call recognize(String key, List<NestRequest> requests) throws InterruptedException {
    ManagedChannel channel = ManagedChannelBuilder.forTarget(grpcTarget).usePlaintext().build();
    try {
      Metadata metadata = new Metadata();
      // Capitalised, as Java users write it (NAVER's Java streaming sample does).
      metadata.put(Metadata.Key.of("Authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
      NestServiceGrpc.NestServiceStub stub = NestServiceGrpc.newStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(metadata))
          .withDeadlineAfter(5, TimeUnit.MINUTES);
      List<String> contents = Collections.synchronizedList(new ArrayList<>());
      Status[] status = new Status[1];
      CountDownLatch done = new CountDownLatch(1);
      StreamObserver<NestRequest> requestObserver = stub.recognize(new StreamObserver<NestResponse>() {
        @Override
        public void onNext(NestResponse response) {
          contents.add(response.getContents());
        }

        @Override
        public void onError(Throwable t) {
          status[0] = Status.fromThrowable(t);
          done.countDown();
        }

        @Override
        public void onCompleted() {
          status[0] = Status.OK;
          done.countDown();
        }
      });
      for (NestRequest r : requests) requestObserver.onNext(r);
      requestObserver.onCompleted();
      expect(done.await(6, TimeUnit.MINUTES), "grpc", "the call did not end within 6 minutes");
      return new Call(new ArrayList<>(contents), status[0]);
    } finally {
      channel.shutdownNow();
      channel.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private static NestRequest config(String json) {
    return NestRequest.newBuilder().setType(RequestType.CONFIG).setConfig(NestConfig.newBuilder().setConfig(json)).build();
  }

  private void grpcRecognize() throws IOException, InterruptedException {
    String shape = "grpc-recognize:grpc-java-bearer";
    byte[] audio = Files.readAllBytes(pcm.toPath());
    List<NestRequest> requests = new ArrayList<>();
    requests.add(config("{\"transcription\":{\"language\":\"en\"}}"));
    int chunks = (audio.length + CHUNK_BYTES - 1) / CHUNK_BYTES;
    for (int n = 0; n < chunks; n++) {
      int from = n * CHUNK_BYTES;
      int len = Math.min(CHUNK_BYTES, audio.length - from);
      boolean last = n == chunks - 1;
      requests.add(NestRequest.newBuilder().setType(RequestType.DATA).setData(NestData.newBuilder()
          .setChunk(ByteString.copyFrom(audio, from, len))
          .setExtraContents("{\"seqId\":" + n + ",\"epFlag\":" + last + "}")).build());
    }
    Call call = recognize(secret, requests);
    JsonArray responses = new JsonArray();
    for (String c : call.contents()) responses.add(parseContents(shape, c));
    printGrpc(shape, call, responses);
    expect(call.status().isOk(), shape, "the call ended with " + call.status());
    expect(responses.size() > 0, shape, "no response at all");
    JsonObject ack = responses.get(0).getAsJsonObject();
    expect(ack.has("responseType") && "[\"config\"]".equals(ack.get("responseType").toString()), shape,
        "the first response is not the config ack: " + snippet(ack.toString()));
    JsonElement ackConfig = ack.get("config");
    expect(ackConfig != null && ackConfig.isJsonObject() && "Success".equals(string(ackConfig.getAsJsonObject(), "status")), shape,
        "config ack status is not Success: " + snippet(ack.toString()));
    StringBuilder finals = new StringBuilder();
    for (JsonElement r : responses) {
      JsonElement t = r.getAsJsonObject().get("transcription");
      if (t == null || !t.isJsonObject()) continue;
      JsonObject tr = t.getAsJsonObject();
      if (tr.has("epFlag") && tr.get("epFlag").getAsBoolean()) finals.append(string(tr, "text")).append(' ');
    }
    expect(finals.toString().toLowerCase(Locale.ROOT).contains("ask not"), shape,
        "the final texts do not contain \"ask not\": \"" + finals.toString().trim() + "\"");
  }

  private void grpcWrongSecret() throws InterruptedException {
    String shape = "grpc-wrong-secret:grpc-java-bearer";
    Call call = recognize(secret + "-wrong", List.of(config("{\"transcription\":{\"language\":\"en\"}}")));
    JsonArray responses = new JsonArray();
    for (String c : call.contents()) responses.add(parseContents(shape, c));
    printGrpc(shape, call, responses);
    expect(call.status().getCode() == Status.Code.UNAUTHENTICATED, shape,
        "a wrong secret ended with " + call.status() + ", want UNAUTHENTICATED");
  }

  private static JsonElement parseContents(String shape, String contents) {
    try {
      return JsonParser.parseString(contents);
    } catch (RuntimeException e) {
      throw new Failure(shape + ": NestResponse.contents is not JSON: " + snippet(contents));
    }
  }

  private static void printGrpc(String shape, Call call, JsonArray responses) {
    JsonObject body = new JsonObject();
    body.addProperty("grpcStatus", call.status().getCode().name());
    body.addProperty("description", call.status().getDescription());
    body.add("responses", responses);
    line(shape, null, call.status().getCode().value(), body, null);
  }

  // ---------------------------------------------------------------- output and checks

  private static void print(String shape, String schema, Answer a, String callbackFor) {
    JsonElement body;
    try {
      body = JsonParser.parseString(a.text());
    } catch (RuntimeException e) {
      body = new com.google.gson.JsonPrimitive(a.text());
    }
    line(shape, schema, a.status(), body, callbackFor);
  }

  private static void line(String shape, String schema, int status, JsonElement body, String callbackFor) {
    JsonObject o = new JsonObject();
    o.addProperty("client", CLIENT);
    o.addProperty("shape", shape);
    o.addProperty("schema", schema);
    o.addProperty("status", status);
    o.add("body", body);
    if (callbackFor != null) o.addProperty("callbackFor", callbackFor);
    OUT.println(OUT_GSON.toJson(o));
  }

  private static JsonObject object(String shape, Answer a) {
    JsonElement e = a.json(shape);
    expect(e.isJsonObject(), shape, "HTTP " + a.status() + " answered JSON that is not an object: " + snippet(a.text()));
    return e.getAsJsonObject();
  }

  private static String string(JsonObject o, String key) {
    JsonElement e = o.get(key);
    return e != null && e.isJsonPrimitive() ? e.getAsString() : null;
  }

  private static void expect(boolean ok, String shape, String message) {
    if (!ok) throw new Failure(shape + ": " + message);
  }

  private static void ascii(ByteArrayOutputStream out, String s) {
    out.writeBytes(s.getBytes(StandardCharsets.US_ASCII));
  }

  private static String snippet(String s) {
    if (s == null) return "(none)";
    return s.length() <= 500 ? s : s.substring(0, 500) + "...";
  }

  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) throw new Failure("environment variable " + name + " is not set (test/compat/harness.ts sets it)");
    return v;
  }
}
