package dev.flotilla.operator.md;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The operator reads a loading worker's progress off its readiness check over HTTP. */
class HttpWorkerProgressTest {
  /**
   * What the worker's readiness check answers (503) while it downloads, SmallRye Health's shape.
   */
  static final String LOADING =
      """
      {
          "status": "DOWN",
          "checks": [
              {
                  "name": "flotilla-model",
                  "status": "DOWN",
                  "data": {
                      "state": "LOADING",
                      "model": "llama",
                      "device": "",
                      "failure": "",
                      "progress": "hf://org/llama@main: 2/5 files, 1.2 GiB of 4.0 GiB, at model-00002-of-00003.safetensors"
                  }
              }
          ]
      }
      """;

  private HttpServer server;
  private final AtomicReference<String> body = new AtomicReference<>(LOADING);
  private final AtomicInteger status = new AtomicInteger(503);
  private final AtomicInteger requests = new AtomicInteger();
  private final CountDownLatch release = new CountDownLatch(1);
  private volatile boolean hang;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext(
        HttpWorkerProgress.READINESS_PATH,
        exchange -> {
          requests.incrementAndGet();
          if (hang) {
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          byte[] bytes = body.get().getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().add("Content-Type", "application/json");
          exchange.sendResponseHeaders(status.get(), bytes.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
          }
        });
    server.start();
  }

  @AfterEach
  void stop() {
    release.countDown();
    server.stop(0);
  }

  private HttpWorkerProgress reader(Duration refresh) {
    return new HttpWorkerProgress(
        server.getAddress().getPort(), Duration.ofMillis(500), refresh, Clock.systemUTC());
  }

  private static List<Pod> pods(String... ips) {
    return java.util.Arrays.stream(ips)
        .map(ip -> WorkerLoadingStatusTest.pod("llama-" + ip, ip, true, false))
        .toList();
  }

  @Test
  void theProgressLineIsReadFromTheNotReadyAnswer() {
    assertThat(reader(Duration.ZERO).of(pods("127.0.0.1")))
        .hasValue(
            "hf://org/llama@main: 2/5 files, 1.2 GiB of 4.0 GiB, at"
                + " model-00002-of-00003.safetensors");
  }

  @Test
  void noProgressWhenTheWorkerSaysNone() {
    body.set(LOADING.replaceAll("\"progress\": \"[^\"]*\"", "\"progress\": \"\""));
    assertThat(reader(Duration.ZERO).of(pods("127.0.0.1"))).isEmpty();
    body.set(
        "{\"status\":\"DOWN\",\"checks\":[{\"name\":\"other\",\"data\":{\"progress\":\"x\"}}]}");
    assertThat(reader(Duration.ZERO).of(pods("127.0.0.1"))).isEmpty();
  }

  @Test
  void garbageIsNoProgress() {
    status.set(200);
    for (String garbage :
        List.of("<html>proxy error</html>", "", "[]", "{\"checks\":{}}", "{\"checks\":[1,2]}")) {
      body.set(garbage);
      assertThat(reader(Duration.ZERO).of(pods("127.0.0.1"))).as(garbage).isEmpty();
    }
  }

  @Test
  void aWorkerThatDoesNotAnswerIsNoProgressAndDoesNotHoldTheCallerLong() {
    hang = true;
    assertThat(reader(Duration.ZERO).of(pods("127.0.0.1"))).isEmpty();
    // The reader gave up on its own timeout: the server still holds its answer.
    assertThat(release.getCount()).isEqualTo(1);
    assertThat(requests.get()).isEqualTo(1);
  }

  @Test
  void nothingListeningIsNoProgress() throws IOException {
    int port;
    try (var socket = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    HttpWorkerProgress closed =
        new HttpWorkerProgress(port, Duration.ofMillis(500), Duration.ZERO, Clock.systemUTC());
    assertThat(closed.of(pods("127.0.0.1"))).isEmpty();
  }

  @Test
  void anAnswerIsKeptForTheRefreshPeriod() {
    HttpWorkerProgress reader = reader(Duration.ofHours(1));
    assertThat(reader.of(pods("127.0.0.1"))).isPresent();
    assertThat(reader.of(pods("127.0.0.1"))).isPresent();
    assertThat(requests.get()).isEqualTo(1);
  }
}
