package dev.flotilla.worker.bench;

import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The shared-prefix chat workload against a running worker over gRPC on loopback: every request is
 * one of 8 "system prompts" of 1,024 tokens followed by a fresh 32-token "user turn", sent by
 * closed-loop clients (a new request as soon as the previous one ends) until a fixed number of
 * requests is done, so a slow or loaded machine gives a longer phase, not an empty one. The first
 * {@code warmups} system prompts are sent once before, one at a time: all 8 fill a worker's prefix
 * cache, as a serving worker's is warm; one warms the JVM. Measures each request's time to first
 * token and the whole phase's output tokens/s on the client side, and the worker's prefix-cache
 * counters from its Prometheus endpoint. Prints one JSON line. Usage: {@code PrefixBench GRPC_PORT
 * HTTP_PORT requests streams max_tokens warmups}.
 */
public final class PrefixBench {
  static final int SYSTEM_PROMPTS = 8;
  static final int SYSTEM_TOKENS = 1024;
  static final int USER_TOKENS = 32;

  private final WorkerGrpc.WorkerStub stub;
  private final int maxTokens;
  private final int[][] systemPrompts = new int[SYSTEM_PROMPTS][SYSTEM_TOKENS];

  private PrefixBench(ManagedChannel channel, int maxTokens) {
    this.stub = WorkerGrpc.newStub(channel);
    this.maxTokens = maxTokens;
    for (int p = 0; p < SYSTEM_PROMPTS; p++) {
      Random random = new Random(7919L * (p + 1));
      systemPrompts[p][0] = 256;
      for (int i = 1; i < SYSTEM_TOKENS; i++) {
        systemPrompts[p][i] = 258 + random.nextInt(2000);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    int grpcPort = Integer.parseInt(args[0]);
    int httpPort = Integer.parseInt(args[1]);
    int total = Integer.parseInt(args[2]);
    int streams = Integer.parseInt(args[3]);
    int maxTokens = Integer.parseInt(args[4]);
    int warmups = Integer.parseInt(args[5]);
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    PrefixBench bench = new PrefixBench(channel, maxTokens);
    for (int p = 0; p < warmups; p++) {
      bench.once(p, new Random(p)).get(30, TimeUnit.MINUTES);
    }
    double[] before = prefixCounters(httpPort);
    Recorder ttft = new Recorder(3);
    AtomicLong tokens = new AtomicLong();
    AtomicLong requests = new AtomicLong();
    AtomicLong sent = new AtomicLong();
    CountDownLatch stopped = new CountDownLatch(streams);
    long start = System.nanoTime();
    for (int s = 0; s < streams; s++) {
      bench.new Client(new Random(31L + s), total, sent, ttft, tokens, requests, stopped).next();
    }
    stopped.await(60, TimeUnit.MINUTES);
    double seconds = (System.nanoTime() - start) / 1e9;
    double[] after = prefixCounters(httpPort);
    Histogram h = ttft.getIntervalHistogram();
    double lookup = after[0] - before[0];
    double hit = after[1] - before[1];
    System.out.println(
        String.format(
            Locale.ROOT,
            "{\"ttft_p50_ms\":%.1f,\"ttft_p99_ms\":%.1f,\"output_tokens_per_s\":%.2f,"
                + "\"seconds\":%.1f,\"requests\":%d,\"measured_ttfts\":%d,"
                + "\"prefix_hit_rate\":%.3f,\"prompt_tokens_computed\":%.0f}",
            ms(h, 50),
            ms(h, 99),
            tokens.get() / seconds,
            seconds,
            requests.get(),
            h.getTotalCount(),
            lookup > 0 ? hit / lookup : 0.0,
            after[2] - before[2]));
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static double ms(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1e3;
  }

  private WorkerGenerateRequest request(int systemPrompt, Random random, int max) {
    TokenIds.Builder ids = TokenIds.newBuilder();
    for (int t : systemPrompts[systemPrompt]) {
      ids.addIds(t);
    }
    for (int i = 0; i < USER_TOKENS; i++) {
      ids.addIds(258 + random.nextInt(2000));
    }
    return WorkerGenerateRequest.newBuilder()
        .setRequestId("prefix-bench")
        .setPromptTokenIds(ids)
        .setSampling(SamplingParams.newBuilder().setMaxTokens(max))
        .build();
  }

  /** One request with one output token, to completion. */
  private CompletableFuture<Void> once(int systemPrompt, Random random) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    stub.generate(
        request(systemPrompt, random, 1),
        new StreamObserver<>() {
          @Override
          public void onNext(WorkerGenerateResponse value) {}

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    return done;
  }

  /** Lookup tokens, hit tokens and prompt tokens computed, as the worker reports them. */
  private static double[] prefixCounters(int httpPort) throws Exception {
    String body =
        // HTTP/1.1: the default h2c upgrade breaks on the worker's large metrics page
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .build()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/q/metrics"))
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    double[] v = new double[3];
    String[] names = {
      "flotilla_worker_prefix_cache_lookup_tokens_total",
      "flotilla_worker_prefix_cache_hit_tokens_total",
      "flotilla_worker_prompt_tokens_computed_total"
    };
    for (String line : body.split("\n")) {
      for (int i = 0; i < names.length; i++) {
        if (line.startsWith(names[i] + " ") || line.startsWith(names[i] + "{")) {
          v[i] = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
      }
    }
    return v;
  }

  /**
   * A closed-loop client: a random system prompt and a fresh user turn per request, until the
   * phase's requests are all sent.
   */
  private final class Client {
    final Random random;
    final int total;
    final AtomicLong sent;
    final Recorder ttft;
    final AtomicLong tokens;
    final AtomicLong requests;
    final CountDownLatch stopped;

    Client(
        Random random,
        int total,
        AtomicLong sent,
        Recorder ttft,
        AtomicLong tokens,
        AtomicLong requests,
        CountDownLatch stopped) {
      this.random = random;
      this.total = total;
      this.sent = sent;
      this.ttft = ttft;
      this.tokens = tokens;
      this.requests = requests;
      this.stopped = stopped;
    }

    void next() {
      if (sent.incrementAndGet() > total) {
        stopped.countDown();
        return;
      }
      WorkerGenerateRequest request = request(random.nextInt(SYSTEM_PROMPTS), random, maxTokens);
      long sentAt = System.nanoTime();
      stub.generate(
          request,
          new StreamObserver<WorkerGenerateResponse>() {
            boolean first = true;

            @Override
            public void onNext(WorkerGenerateResponse r) {
              if (!r.hasTokens()) {
                return;
              }
              tokens.addAndGet(r.getTokens().getTokenIdsCount());
              if (first) {
                ttft.recordValue((System.nanoTime() - sentAt) / 1000);
              }
              first = false;
            }

            @Override
            public void onError(Throwable t) {
              System.err.println("request failed: " + t);
              stopped.countDown();
            }

            @Override
            public void onCompleted() {
              requests.incrementAndGet();
              next();
            }
          });
    }
  }
}
