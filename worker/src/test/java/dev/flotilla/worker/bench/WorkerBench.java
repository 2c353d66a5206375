package dev.flotilla.worker.bench;

import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Drives a running worker over gRPC on loopback: for each (streams, adapter pool) phase, that many
 * closed-loop clients send Generate requests back to back, each with a random adapter from the
 * pool, for a fixed time. Measures output tokens/s, time to first token and time between tokens on
 * the client side, and adapter loads (from disk and from the worker's host tier) from the worker's
 * Prometheus endpoint. Before the first phase over more than 64 adapters, every adapter of the pool
 * is loaded once through LoadAdapter, so that phase measures a worker whose adapters are all in
 * memory (the pool or the host tier), not its first reads of the files. Prints a table and one JSON
 * line last. Usage: {@code WorkerBench GRPC_PORT HTTP_PORT ENGINE_B32_TOKENS_PER_S seconds prompt
 * max_tokens [ENGINE_MIX_TOKENS_PER_S]} (the last from {@link EngineMixBench}: the same closed-loop
 * work through the engine alone). {@code -Dbench.phases=32x8,32x64} runs only those phases (streams
 * x adapters).
 */
public final class WorkerBench {
  private static final double RAMP = 0.25;
  private static final int[][] PHASES = {
    {1, 8}, {8, 8}, {32, 8}, {64, 8}, {1, 64}, {8, 64}, {32, 64}, {64, 64}, {32, 1000}
  };

  private final WorkerGrpc.WorkerStub stub;
  private final WorkerGrpc.WorkerBlockingStub blocking;
  private final int httpPort;
  private final int promptTokens;
  private final int maxTokens;

  private WorkerBench(ManagedChannel channel, int httpPort, int promptTokens, int maxTokens) {
    this.stub = WorkerGrpc.newStub(channel);
    this.blocking = WorkerGrpc.newBlockingStub(channel);
    this.httpPort = httpPort;
    this.promptTokens = promptTokens;
    this.maxTokens = maxTokens;
  }

  record PhaseResult(
      int streams,
      int pool,
      double tokensPerSecond,
      Histogram ttft,
      Histogram tbt,
      long adapterLoads,
      long hostLoads,
      long requests) {}

  public static void main(String[] args) throws Exception {
    int grpcPort = Integer.parseInt(args[0]);
    int httpPort = Integer.parseInt(args[1]);
    double engineB32 = Double.parseDouble(args[2]);
    double seconds = Double.parseDouble(args[3]);
    int prompt = Integer.parseInt(args[4]);
    int maxTokens = Integer.parseInt(args[5]);
    double engineMix = args.length > 6 ? Double.parseDouble(args[6]) : Double.NaN;
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build();
    WorkerBench bench = new WorkerBench(channel, httpPort, prompt, maxTokens);
    bench.phase(8, 8, Math.min(5, seconds)); // warm-up: JIT, adapters, KV pages
    System.out.printf(
        "%-8s %-5s %10s %9s %9s %9s %9s %9s %9s %9s%n",
        "streams",
        "pool",
        "tokens/s",
        "ttft_p50",
        "ttft_p99",
        "tbt_p50",
        "tbt_p99",
        "requests",
        "loads",
        "from_host");
    PhaseResult headline = null;
    List<PhaseResult> all = new ArrayList<>();
    int primed = 64;
    for (int[] p : phases()) {
      if (p[1] > primed) {
        bench.prime(p[1]);
        primed = p[1];
      }
      PhaseResult r = bench.phase(p[0], p[1], seconds);
      all.add(r);
      System.out.printf(
          Locale.ROOT,
          "%-8d %-5d %10.1f %9.1f %9.1f %9.1f %9.1f %9d %9d %9d%n",
          r.streams,
          r.pool,
          r.tokensPerSecond,
          ms(r.ttft, 50),
          ms(r.ttft, 99),
          ms(r.tbt, 50),
          ms(r.tbt, 99),
          r.requests,
          r.adapterLoads,
          r.hostLoads);
      if (r.streams == 32 && r.pool == 8) {
        headline = r;
      }
    }
    long loads = all.stream().mapToLong(PhaseResult::adapterLoads).sum();
    PhaseResult h = headline;
    StringBuilder json = new StringBuilder("{");
    PhaseResult over64 = find(all, 32, 64);
    PhaseResult over1000 = find(all, 32, 1000);
    if (over64 != null) {
      json.append(
          String.format(
              Locale.ROOT,
              "\"ttft_p99_ms_64_over_8\":%.3f,",
              ms(over64.ttft, 99) / ms(h.ttft, 99)));
    }
    if (over1000 != null) {
      json.append(
          String.format(
              Locale.ROOT,
              "\"tok_s_1000_over_8\":%.3f,",
              over1000.tokensPerSecond / h.tokensPerSecond));
    }
    for (PhaseResult r : all) {
      if (r.streams == 32) {
        json.append(
            String.format(Locale.ROOT, "\"ttft_p99_ms_c32_pool%d\":%.1f,", r.pool, ms(r.ttft, 99)));
      }
    }
    json.append(
        String.format(
            Locale.ROOT, "\"stream32_vs_engine_b32\":%.3f,", h.tokensPerSecond / engineB32));
    if (!Double.isNaN(engineMix)) {
      // the same rows through the engine alone: what the scheduler, detokenizer and gRPC cost
      json.append(
          String.format(
              Locale.ROOT,
              "\"stream32_vs_engine_mix\":%.3f,\"engine_mix_tokens_per_s\":%.1f,",
              h.tokensPerSecond / engineMix,
              engineMix));
    }
    json.append(
        String.format(
            Locale.ROOT, "\"tbt_p50_ms\":%.2f,\"tbt_p99_ms\":%.2f,", ms(h.tbt, 50), ms(h.tbt, 99)));
    json.append(
        String.format(
            Locale.ROOT,
            "\"ttft_p50_ms\":%.1f,\"ttft_p99_ms\":%.1f,",
            ms(h.ttft, 50),
            ms(h.ttft, 99)));
    json.append(
        String.format(
            Locale.ROOT,
            "\"output_tokens_per_s\":%.1f,\"engine_b32_tokens_per_s\":%.1f,",
            h.tokensPerSecond,
            engineB32));
    for (PhaseResult r : all) {
      json.append(
          String.format(
              Locale.ROOT,
              "\"tokens_per_s_c%d_pool%d\":%.1f,",
              r.streams,
              r.pool,
              r.tokensPerSecond));
    }
    json.append(
        String.format(
            Locale.ROOT,
            "\"tbt_p99_over_p50\":%.2f,\"adapter_loads\":%d}",
            ms(h.tbt, 99) / ms(h.tbt, 50),
            loads));
    System.out.println(json);
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static int[][] phases() {
    String spec = System.getProperty("bench.phases", "");
    if (spec.isBlank()) {
      return PHASES;
    }
    int[][] phases =
        java.util.Arrays.stream(spec.split(",")).map(WorkerBench::phase).toArray(int[][]::new);
    if (java.util.Arrays.stream(phases).noneMatch(p -> p[0] == 32 && p[1] == 8)) {
      // every ratio and the headline figures divide by the 32-stream, 8-adapter phase
      throw new IllegalArgumentException(
          "bench.phases '" + spec + "' must include 32x8, the phase the ratios divide by");
    }
    return phases;
  }

  private static int[] phase(String spec) {
    String[] p = spec.trim().split("x");
    try {
      if (p.length == 2 && Integer.parseInt(p[0]) > 0 && Integer.parseInt(p[1]) > 0) {
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(
        "bench.phases: '" + spec.trim() + "' is not STREAMSxADAPTERS (e.g. 32x64)");
  }

  private static PhaseResult find(List<PhaseResult> all, int streams, int pool) {
    return all.stream()
        .filter(r -> r.streams == streams && r.pool == pool)
        .findFirst()
        .orElse(null);
  }

  /**
   * Loads adapters a0 .. a(pool - 1) once, so the phases over them start with every adapter in the
   * worker's memory rather than on disk.
   */
  void prime(int pool) {
    long t0 = System.nanoTime();
    for (int i = 0; i < pool; i++) {
      blocking.loadAdapter(LoadAdapterRequest.newBuilder().setName("a" + i).build());
    }
    System.out.printf(
        Locale.ROOT, "# loaded %d adapters once in %.1f s%n", pool, (System.nanoTime() - t0) / 1e9);
  }

  private static double ms(Histogram h, double percentile) {
    return h.getTotalCount() == 0 ? 0 : h.getValueAtPercentile(percentile) / 1e3;
  }

  /** Runs {@code streams} closed-loop clients for {@code seconds}. */
  PhaseResult phase(int streams, int pool, double seconds) throws Exception {
    Recorder ttft = new Recorder(3);
    Recorder tbt = new Recorder(3);
    AtomicLong tokens = new AtomicLong();
    AtomicLong requests = new AtomicLong();
    long loadsBefore = adapterLoads();
    long hostLoadsBefore = adapterLoads("host");
    CountDownLatch stopped = new CountDownLatch(streams);
    long start = System.nanoTime();
    long end = start + (long) (seconds * 1e9);
    // All clients start at once: the first quarter is a ramp (every stream prefilling together),
    // so tokens and latencies are counted over the last three quarters only (steady state).
    long measureFrom = start + (long) (seconds * RAMP * 1e9);
    List<Client> clients = new ArrayList<>();
    for (int s = 0; s < streams; s++) {
      Random random = new Random(31L * streams + s * 7919L + pool);
      Client client =
          new Client(random, pool, measureFrom, end, ttft, tbt, tokens, requests, stopped);
      clients.add(client);
      client.next();
    }
    // At the end of the window the clients hang up; the worker frees their sequences.
    Thread.sleep((long) (seconds * 1000));
    clients.forEach(Client::hangUp);
    stopped.await(60, TimeUnit.SECONDS);
    // tokens are counted only inside the window; requests in flight at its end finish outside it
    return new PhaseResult(
        streams,
        pool,
        tokens.get() / (seconds * (1 - RAMP)),
        ttft.getIntervalHistogram(),
        tbt.getIntervalHistogram(),
        adapterLoads() - loadsBefore,
        adapterLoads("host") - hostLoadsBefore,
        requests.get());
  }

  /**
   * One closed-loop client: a new request as soon as the previous one ends, until the phase ends.
   */
  private final class Client {
    final Random random;
    final int pool;
    final long measureFrom;
    final long end;
    final Recorder ttft;
    final Recorder tbt;
    final AtomicLong tokens;
    final AtomicLong requests;
    final CountDownLatch stopped;
    volatile ClientCallStreamObserver<WorkerGenerateRequest> call;
    volatile boolean done;

    Client(
        Random random,
        int pool,
        long measureFrom,
        long end,
        Recorder ttft,
        Recorder tbt,
        AtomicLong tokens,
        AtomicLong requests,
        CountDownLatch stopped) {
      this.random = random;
      this.pool = pool;
      this.measureFrom = measureFrom;
      this.end = end;
      this.ttft = ttft;
      this.tbt = tbt;
      this.tokens = tokens;
      this.requests = requests;
      this.stopped = stopped;
    }

    synchronized void hangUp() {
      ClientCallStreamObserver<WorkerGenerateRequest> c = call;
      if (c != null && !done) {
        c.cancel("benchmark window over", null);
      }
    }

    private synchronized void stop() {
      if (!done) {
        done = true;
        stopped.countDown();
      }
    }

    void next() {
      if (System.nanoTime() >= end) {
        stop();
        return;
      }
      TokenIds.Builder ids = TokenIds.newBuilder().addIds(256);
      for (int i = 1; i < promptTokens; i++) {
        ids.addIds(258 + random.nextInt(2000));
      }
      WorkerGenerateRequest request =
          WorkerGenerateRequest.newBuilder()
              .setRequestId("bench")
              .setAdapter("a" + random.nextInt(pool))
              .setPromptTokenIds(ids)
              .setSampling(SamplingParams.newBuilder().setMaxTokens(maxTokens))
              .build();
      long sent = System.nanoTime();
      stub.generate(
          request,
          new ClientResponseObserver<WorkerGenerateRequest, WorkerGenerateResponse>() {
            long last = -1;

            @Override
            public void beforeStart(ClientCallStreamObserver<WorkerGenerateRequest> requestStream) {
              call = requestStream;
            }

            @Override
            public void onNext(WorkerGenerateResponse r) {
              if (!r.hasTokens()) {
                return;
              }
              long now = System.nanoTime();
              int n = r.getTokens().getTokenIdsCount();
              boolean measured = now >= measureFrom && now < end;
              if (measured) {
                tokens.addAndGet(n);
              }
              if (last < 0) {
                if (measured) {
                  ttft.recordValue((now - sent) / 1000);
                }
              } else if (n > 0 && measured) {
                long gap = (now - last) / 1000 / n;
                for (int i = 0; i < n; i++) {
                  tbt.recordValue(gap);
                }
              }
              last = now;
            }

            @Override
            public void onError(Throwable t) {
              if (System.nanoTime() < end) {
                System.err.println("request failed: " + t);
              }
              stop();
            }

            @Override
            public void onCompleted() {
              requests.incrementAndGet();
              next();
            }
          });
    }
  }

  /** Loads that read the adapter's files. */
  private long adapterLoads() throws Exception {
    return adapterLoads("disk");
  }

  private long adapterLoads(String source) throws Exception {
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
    for (String line : body.split("\n")) {
      if (line.startsWith("flotilla_worker_adapter_loads_total{")
          && line.contains("result=\"ok\"")
          && line.contains("source=\"" + source + "\"")) {
        return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return 0;
  }
}
