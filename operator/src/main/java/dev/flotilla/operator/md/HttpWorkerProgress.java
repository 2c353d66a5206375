package dev.flotilla.operator.md;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Reads progress off the workers' readiness checks: {@code GET http://<podIP>:8081/q/health/ready}
 * answers 503 with SmallRye Health's JSON while the model loads, the check {@code flotilla-model}
 * carrying {@code data.progress}. The pods are asked in parallel, each with {@code timeout}, and
 * the whole call waits at most about {@code timeout}. A pod's answer is kept for {@code refresh}:
 * reconciles come every autoscaler tick, the progress is worth reading less often, and each new
 * line is a status write.
 */
public final class HttpWorkerProgress implements WorkerProgress {
  static final String READINESS_PATH = "/q/health/ready";
  static final String CHECK_NAME = "flotilla-model";

  /** At most this many pods are asked per call; one answer is enough to show progress. */
  static final int MAX_PODS = 4;

  static final int MAX_LINE = 512;

  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http;
  private final int port;
  private final Duration timeout;
  private final Duration refresh;
  private final Clock clock;
  private final Map<String, Read> reads = new ConcurrentHashMap<>();

  private record Read(Instant at, Optional<String> progress) {}

  public HttpWorkerProgress(int port, Duration timeout, Duration refresh, Clock clock) {
    this.port = port;
    this.timeout = timeout;
    this.refresh = refresh;
    this.clock = clock;
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
  }

  @Override
  public Optional<String> of(List<Pod> pods) {
    Instant now = clock.instant();
    reads.values().removeIf(r -> r.at().plus(refresh.multipliedBy(3)).isBefore(now));
    List<CompletableFuture<Optional<String>>> asked = new ArrayList<>();
    for (Pod pod : pods.subList(0, Math.min(MAX_PODS, pods.size()))) {
      String key = pod.getMetadata().getUid() + "/" + pod.getStatus().getPodIP();
      Read kept = reads.get(key);
      if (kept != null && kept.at().plus(refresh).isAfter(now)) {
        asked.add(CompletableFuture.completedFuture(kept.progress()));
        continue;
      }
      asked.add(
          ask(pod.getStatus().getPodIP())
              .thenApply(
                  p -> {
                    reads.put(key, new Read(now, p));
                    return p;
                  }));
    }
    long deadline = System.nanoTime() + timeout.toNanos() + TimeUnit.MILLISECONDS.toNanos(200);
    for (CompletableFuture<Optional<String>> f : asked) {
      try {
        Optional<String> p = f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (p.isPresent()) {
          return p;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return Optional.empty();
      } catch (Exception e) {
        // no answer in time or the pod refused: another pod may answer; the next reconcile asks
      }
    }
    return Optional.empty();
  }

  private CompletableFuture<Optional<String>> ask(String ip) {
    String host = ip.contains(":") ? "[" + ip + "]" : ip;
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + READINESS_PATH))
            .timeout(timeout)
            .header("Accept", "application/json")
            .GET()
            .build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
        .thenApply(r -> progress(r.body()))
        .exceptionally(e -> Optional.empty());
  }

  /** The {@code flotilla-model} check's {@code data.progress} in a health answer, if non-blank. */
  static Optional<String> progress(String body) {
    JsonNode root;
    try {
      root = JSON.readTree(body == null ? "" : body);
    } catch (Exception e) {
      return Optional.empty();
    }
    if (root == null || !root.path("checks").isArray()) {
      return Optional.empty();
    }
    for (JsonNode check : root.path("checks")) {
      if (!CHECK_NAME.equals(check.path("name").asText())) {
        continue;
      }
      JsonNode progress = check.path("data").path("progress");
      if (progress.isTextual() && !progress.asText().isBlank()) {
        String line = progress.asText().strip();
        return Optional.of(line.length() <= MAX_LINE ? line : line.substring(0, MAX_LINE) + "…");
      }
    }
    return Optional.empty();
  }
}
