package dev.flotilla.gateway.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * Gateway overhead: the same streaming requests sent straight to a worker and through the gateway
 * (a separate JVM, {@link BenchGateway}), at 1 and 64 concurrent clients, in one run. The worker is
 * an in-process fixed-rate fake unless {@code BENCH_WORKER=host:port} names a real one (run.sh's
 * tiny mode starts the worker on the testkit's tiny model). Each client sends its next request when
 * the previous one ends; each phase counts its last three quarters (its first quarter, where every
 * client sends at once, is reported apart as the start burst). Direct and gateway phases alternate
 * over {@code BENCH_ROUNDS} rounds (default 3), pooled per side. Prints one line per phase and,
 * last, one JSON line: {@code added_ttft_p50_ms}, {@code added_ttft_p99_ms} and {@code
 * throughput_ratio} (gateway/direct) at 64 clients, and {@code gateway_cpu_ms_per_1000}; with them
 * {@code gateway_leg_ttft_mean_ms} (the client's mean TTFT less the gateway's own mean from arrival
 * to first token) and, with a real worker, {@code worker_ttft_mean_ratio} (the worker's own mean
 * TTFT, gateway phases over direct ones).
 *
 * <p>Usage: {@code GatewayBench [seconds per phase=10] [tokens=16] [token interval us=2000]}.
 */
public final class GatewayBench {
  private static final ObjectMapper JSON = new ObjectMapper();

  private GatewayBench() {}

  /**
   * One phase's results.
   *
   * @param benchCpuMs CPU of this process: the clients (and the fake worker, if it is one)
   * @param hostBusyCores the whole machine's busy CPU over the phase, in cores (other tenants of
   *     the host included)
   */
  record Phase(
      String target,
      int clients,
      long requests,
      double seconds,
      Histogram ttft,
      Histogram burst,
      double gatewayCpuMs,
      double benchCpuMs,
      double hostBusyCores,
      Breakdown breakdown) {
    double throughput() {
      return requests / seconds;
    }

    double ms(double percentile) {
      return ttft.getValueAtPercentile(percentile) / 1_000.0;
    }

    /**
     * TTFT of the requests sent in the phase's first quarter (all clients at once at its start).
     */
    double burstMs(double percentile) {
      return burst.getValueAtPercentile(percentile) / 1_000.0;
    }

    /** Rounds of one target and client count as one phase: their requests and times together. */
    static Phase pool(List<Phase> rounds) {
      Phase first = rounds.get(0);
      Histogram ttft = new Histogram(first.ttft.getHighestTrackableValue(), 3);
      Histogram burst = new Histogram(first.burst.getHighestTrackableValue(), 3);
      long requests = 0;
      double seconds = 0;
      double gatewayCpu = 0;
      double benchCpu = 0;
      double hostBusy = 0;
      for (Phase p : rounds) {
        ttft.add(p.ttft);
        burst.add(p.burst);
        requests += p.requests;
        seconds += p.seconds;
        gatewayCpu += p.gatewayCpuMs;
        benchCpu += p.benchCpuMs;
        hostBusy += p.hostBusyCores / rounds.size();
      }
      return new Phase(
          first.target,
          first.clients,
          requests,
          seconds,
          ttft,
          burst,
          first.gatewayCpuMs < 0 ? -1 : gatewayCpu,
          benchCpu,
          hostBusy,
          Breakdown.mean(rounds.stream().map(Phase::breakdown).toList()));
    }
  }

  /**
   * Where a phase's mean time to first token went, from the processes' own timers over the measured
   * part of the phase (NaN where a process has none: the fake worker, the direct phase's gateway).
   *
   * @param clientMs the clients' mean TTFT
   * @param gatewayMs the gateway's mean from a request's arrival to its worker's first token
   * @param gatewayQueueMs the gateway's mean wait from arrival to dispatch
   * @param workerMs the worker's mean from a sequence's arrival to its first generated token
   * @param workerBatch the worker's mean sequences per engine step
   * @param workerSteps the worker's engine steps in the measured part of the phase
   */
  record Breakdown(
      double clientMs,
      double gatewayMs,
      double gatewayQueueMs,
      double workerMs,
      double workerBatch,
      double workerSteps) {
    static Breakdown mean(List<Breakdown> rounds) {
      double n = rounds.size();
      return new Breakdown(
          rounds.stream().mapToDouble(Breakdown::clientMs).sum() / n,
          rounds.stream().mapToDouble(Breakdown::gatewayMs).sum() / n,
          rounds.stream().mapToDouble(Breakdown::gatewayQueueMs).sum() / n,
          rounds.stream().mapToDouble(Breakdown::workerMs).sum() / n,
          rounds.stream().mapToDouble(Breakdown::workerBatch).sum() / n,
          rounds.stream().mapToDouble(Breakdown::workerSteps).sum() / n);
    }

    String line() {
      return String.format(
          "mean ttft: client %.3f ms, gateway %.3f ms (queue %.3f), worker %.3f ms;"
              + " worker steps %.0f of %.1f sequences",
          clientMs, gatewayMs, gatewayQueueMs, workerMs, workerSteps, workerBatch);
    }
  }

  /** The processes' timer pages: the gateway's (null in the direct phase) and the worker's. */
  record Pages(String gateway, String worker) {
    Breakdown since(Pages.Reading before, Pages.Reading after, Histogram ttft) {
      return new Breakdown(
          ttft.getMean() / 1000.0,
          after.gatewayTtft.meanMsSince(before.gatewayTtft),
          after.gatewayQueue.meanMsSince(before.gatewayQueue),
          after.workerTtft.meanMsSince(before.workerTtft),
          after.workerBatch.meanSince(before.workerBatch),
          after.workerBatch.count() - before.workerBatch.count());
    }

    Reading read() {
      return new Reading(
          TimerScrape.read(gateway, "flotilla_gateway_time_to_first_token_seconds"),
          TimerScrape.read(gateway, "flotilla_gateway_queue_time_seconds"),
          TimerScrape.read(worker, "flotilla_worker_time_to_first_token_seconds"),
          TimerScrape.read(worker, "flotilla_worker_batch_size"));
    }

    /** The timers' totals at one moment; {@code workerBatch} is a summary (sequences per step). */
    record Reading(
        TimerScrape gatewayTtft,
        TimerScrape gatewayQueue,
        TimerScrape workerTtft,
        TimerScrape workerBatch) {}
  }

  public static void main(String[] args) throws Exception {
    BenchLogs.productionLevels();
    int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    long intervalMicros = args.length > 2 ? Long.parseLong(args[2]) : 2000;
    String realWorker = System.getenv().getOrDefault("BENCH_WORKER", "").strip();
    try (FixedRateWorker fake =
        realWorker.isEmpty() ? new FixedRateWorker(tokens, intervalMicros) : null) {
      String workerAddress = fake != null ? fake.address() : realWorker;
      List<String> command = new ArrayList<>();
      // The gateway's own cores (run.sh's tiny mode): taskset sets them and runs the JVM in its
      // place.
      String cpus = System.getenv().getOrDefault("BENCH_GATEWAY_CPUS", "").strip();
      if (!cpus.isEmpty()) {
        command.addAll(List.of("taskset", "-c", cpus));
      }
      command.add(ProcessHandle.current().info().command().orElse("java"));
      // Extra options for the gateway JVM only, e.g. -XX:StartFlightRecording=... to profile it.
      String opts = System.getenv().getOrDefault("BENCH_GATEWAY_JAVA_OPTS", "").strip();
      if (!opts.isEmpty()) {
        command.addAll(List.of(opts.split("\\s+")));
      }
      command.addAll(
          List.of(
              "-cp",
              System.getProperty("java.class.path"),
              BenchGateway.class.getName(),
              workerAddress));
      Process gateway =
          new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      try {
        int[] ports =
            ports(
                new BufferedReader(
                    new InputStreamReader(gateway.getInputStream(), StandardCharsets.UTF_8)));
        int port = ports[0];
        // The worker's Prometheus page (run.sh's tiny mode names it); the fake worker has none.
        String workerPage = System.getenv().getOrDefault("BENCH_WORKER_METRICS", "").strip();
        Pages directPages = new Pages(null, workerPage);
        Pages gatewayPages = new Pages("http://127.0.0.1:" + ports[1] + "/metrics", workerPage);
        // The clients' callbacks only stamp a time and start the next request: they run on the
        // transport thread. On grpc's default executor each one would be handed to one of dozens
        // of pooled threads: a futex wake-up and a context switch per message, on the core the
        // tiny worker shares with the load generator.
        ManagedChannel direct =
            Grpc.newChannelBuilder(workerAddress, InsecureChannelCredentials.create())
                .directExecutor()
                .build();
        ManagedChannel viaGateway =
            Grpc.newChannelBuilder("127.0.0.1:" + port, InsecureChannelCredentials.create())
                .directExecutor()
                .build();
        Metadata auth = new Metadata();
        auth.put(
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
            "Bearer " + BenchGateway.KEY);
        WorkerGrpc.WorkerStub workerStub = WorkerGrpc.newStub(direct);
        InferenceGrpc.InferenceStub gatewayStub =
            InferenceGrpc.newStub(viaGateway)
                .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth));
        SamplingParams sampling = SamplingParams.newBuilder().setMaxTokens(tokens).build();
        WorkerGenerateRequest workerRequest =
            WorkerGenerateRequest.newBuilder()
                .setPrompt("hello bench")
                .setSampling(sampling)
                .setTenant("bench")
                .build();
        GenerateRequest gatewayRequest =
            GenerateRequest.newBuilder()
                .setModel(BenchGateway.MODEL)
                .setPrompt("hello bench")
                .setSampling(sampling)
                .build();
        Stream directCall =
            (first, done) ->
                workerStub.generate(workerRequest, observer(r -> r.hasTokens(), first, done));
        Stream gatewayCall =
            (first, done) ->
                gatewayStub.generate(
                    gatewayRequest, observer(GenerateResponse::hasTokens, first, done));
        ProcessHandle gw = gateway.toHandle();
        // Warm both paths (JIT, connections) before measuring. A gateway runs for days; on two
        // shared cores its C2 compiler stays busy for seconds after the first requests, so the
        // gateway warms at both client counts, for longer.
        Duration warmup = Duration.ofSeconds(Math.max(2, seconds));
        run("direct", directCall, 64, warmup, null, directPages);
        // The warm-up ends, and the measurement begins, at 64 clients: going from one client to 64
        // sets off a burst of deoptimisation and C2 recompiles in the gateway, and C2 shares the
        // gateway's core with its event loop.
        for (int i = 0; i < 3; i++) {
          run("gateway", gatewayCall, 1, Duration.ofSeconds(2), gw, gatewayPages);
          run("gateway", gatewayCall, 64, warmup, gw, gatewayPages);
        }
        Duration d = Duration.ofSeconds(seconds);
        // Direct and gateway phases alternate over several rounds (direct first in even rounds,
        // gateway first in odd ones), and each side's rounds are pooled: on a shared 2-core host
        // the engine's speed drifts by several percent over a minute, and one phase of each,
        // back to back, would put that drift straight into the difference.
        int rounds = Integer.parseInt(System.getenv().getOrDefault("BENCH_ROUNDS", "3").strip());
        ObjectNode out = JSON.createObjectNode();
        for (int clients : List.of(64, 1)) {
          List<Phase> directRounds = new ArrayList<>();
          List<Phase> gatewayRounds = new ArrayList<>();
          for (int r = 0; r < rounds; r++) {
            for (boolean directNow : r % 2 == 0 ? List.of(true, false) : List.of(false, true)) {
              Phase p =
                  directNow
                      ? run("direct", directCall, clients, d, null, directPages)
                      : run("gateway", gatewayCall, clients, d, gw, gatewayPages);
              (directNow ? directRounds : gatewayRounds).add(p);
              print("round " + (r + 1), p);
            }
          }
          Phase a = Phase.pool(directRounds);
          Phase b = Phase.pool(gatewayRounds);
          print("all", a);
          print("all", b);
          String suffix = clients == 1 ? "_c1" : "";
          out.put("added_ttft_p50_ms" + suffix, round(b.ms(50) - a.ms(50)));
          out.put("added_ttft_p99_ms" + suffix, round(b.ms(99) - a.ms(99)));
          out.put("throughput_ratio" + suffix, round(b.throughput() / a.throughput()));
          out.put(
              "gateway_cpu_ms_per_1000" + suffix, round(b.gatewayCpuMs() / b.requests() * 1000));
          out.put("added_start_burst_ttft_p99_ms" + suffix, round(b.burstMs(99) - a.burstMs(99)));
          // The gateway's own leg, steadier than the added TTFT: the client's mean less the
          // gateway's mean from arrival to the worker's first token (the hops between client and
          // gateway and the relay). The added TTFT also carries how fast the worker ran in each
          // side's phases, which the worker's own TTFT ratio shows.
          out.put(
              "gateway_leg_ttft_mean_ms" + suffix,
              round(b.breakdown().clientMs() - b.breakdown().gatewayMs()));
          if (!Double.isNaN(b.breakdown().workerMs())) {
            out.put(
                "worker_ttft_mean_ratio" + suffix,
                round(b.breakdown().workerMs() / a.breakdown().workerMs()));
          }
        }
        out.put("rounds", rounds);
        out.put("worker", fake != null ? "fixed-rate fake" : "real worker at " + realWorker);
        out.put("tokens_per_request", tokens)
            .put("token_interval_us", fake != null ? intervalMicros : 0)
            .put("seconds_per_phase", seconds)
            .put("cores", Runtime.getRuntime().availableProcessors());
        System.out.println(JSON.writeValueAsString(out));
        direct.shutdownNow();
        viaGateway.shutdownNow();
      } finally {
        gateway.getOutputStream().close();
        if (!gateway.waitFor(10, TimeUnit.SECONDS)) {
          gateway.destroyForcibly();
        }
      }
    }
  }

  /**
   * The gateway's gRPC and metrics ports, from its {@code ports <gRPC> <HTTP>} line: JVM options
   * such as JFR may print before it.
   */
  private static int[] ports(BufferedReader out) throws java.io.IOException {
    for (String line = out.readLine(); line != null; line = out.readLine()) {
      if (line.strip().matches("ports \\d+ \\d+")) {
        String[] f = line.strip().split(" ");
        return new int[] {Integer.parseInt(f[1]), Integer.parseInt(f[2])};
      }
      System.err.println(line);
    }
    throw new IllegalStateException("the gateway exited before printing its ports");
  }

  private static void print(String label, Phase p) {
    System.out.printf(
        "%-8s %-8s clients=%-3d requests=%-7d req/s=%-9.1f ttft p50=%.3f ms"
            + " p99=%.3f ms (start burst p99=%.3f ms) bench cpu=%.1f ms"
            + " host busy=%.2f cores%s%n                  %s%n",
        label,
        p.target(),
        p.clients(),
        p.requests(),
        p.throughput(),
        p.ms(50),
        p.ms(99),
        p.burstMs(99),
        p.benchCpuMs(),
        p.hostBusyCores(),
        p.gatewayCpuMs() < 0 ? "" : String.format(" gateway cpu=%.1f ms", p.gatewayCpuMs()),
        p.breakdown().line());
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /** Starts one streaming request; calls {@code first} at its first token, {@code done} at end. */
  @FunctionalInterface
  interface Stream {
    void start(Runnable first, Runnable done);
  }

  private static <T> StreamObserver<T> observer(
      java.util.function.Predicate<T> isToken, Runnable first, Runnable done) {
    return new StreamObserver<>() {
      boolean seen;

      @Override
      public void onNext(T value) {
        if (!seen && isToken.test(value)) {
          seen = true;
          first.run();
        }
      }

      @Override
      public void onError(Throwable t) {
        throw new IllegalStateException("a benchmark request failed", t);
      }

      @Override
      public void onCompleted() {
        done.run();
      }
    };
  }

  /**
   * {@code clients} closed loops for {@code duration}. Only the last three quarters count: in the
   * first quarter every client starts at once and the worker prefills them all in a burst, which
   * with the real worker would otherwise hold nearly all of a 64-client phase's slowest 1%. The
   * burst's own TTFT p99 is kept apart in the result. Requests still running at the end are not
   * counted.
   */
  private static Phase run(
      String target,
      Stream stream,
      int clients,
      Duration duration,
      ProcessHandle gateway,
      Pages pages)
      throws InterruptedException {
    Histogram ttft = new Histogram(60_000_000L, 3); // microseconds
    Histogram burst = new Histogram(60_000_000L, 3);
    AtomicLong completed = new AtomicLong();
    long start = System.nanoTime();
    long measureFrom = start + duration.toNanos() / 4;
    long end = start + duration.toNanos();
    Window window = new Window(measureFrom, end, ttft, burst, completed);
    CountDownLatch stopped = new CountDownLatch(clients);
    for (int c = 0; c < clients; c++) {
      startOne(stream, window, stopped);
    }
    TimeUnit.NANOSECONDS.sleep(measureFrom - System.nanoTime());
    double cpuBefore = cpuMs(gateway);
    double benchBefore = cpuMs(ProcessHandle.current());
    long hostBefore = hostCpuTicks();
    Pages.Reading timersBefore = pages.read();
    stopped.await(duration.toSeconds() + 60, TimeUnit.SECONDS);
    double elapsed = (System.nanoTime() - measureFrom) / 1e9; // to the last request's end
    double cpu = gateway == null ? -1 : cpuMs(gateway) - cpuBefore;
    double bench = cpuMs(ProcessHandle.current()) - benchBefore;
    long hostAfter = hostCpuTicks();
    Breakdown breakdown = pages.since(timersBefore, pages.read(), ttft);
    double hostBusy =
        hostAfter < 0 || hostBefore < 0
            ? -1
            : (hostAfter - hostBefore) / 100.0 / elapsed; // USER_HZ is 100 on Linux
    return new Phase(
        target,
        clients,
        completed.get(),
        (end - measureFrom) / 1e9,
        ttft,
        burst,
        cpu,
        bench,
        hostBusy,
        breakdown);
  }

  /** Where a phase's requests are counted: TTFT from measureFrom, completions up to end. */
  private record Window(
      long measureFrom, long end, Histogram ttft, Histogram burst, AtomicLong completed) {
    void firstToken(long sent, long micros) {
      Histogram h = sent >= measureFrom ? ttft : burst;
      synchronized (h) {
        h.recordValue(Math.min(micros, h.getHighestTrackableValue()));
      }
    }

    /** Counts a finished request; true while the phase runs on. */
    boolean finished() {
      long now = System.nanoTime();
      if (now >= measureFrom && now < end) {
        completed.incrementAndGet();
      }
      return now < end;
    }
  }

  private static void startOne(Stream stream, Window window, CountDownLatch stopped) {
    long sent = System.nanoTime();
    stream.start(
        () -> window.firstToken(sent, (System.nanoTime() - sent) / 1000),
        () -> {
          if (window.finished()) {
            startOne(stream, window, stopped);
          } else {
            stopped.countDown();
          }
        });
  }

  /** Busy ticks of the whole machine (user, nice, system, irq, softirq); -1 off Linux. */
  private static long hostCpuTicks() {
    try {
      String[] f =
          java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/stat"))
              .get(0)
              .trim()
              .split("\\s+");
      return Long.parseLong(f[1])
          + Long.parseLong(f[2])
          + Long.parseLong(f[3])
          + Long.parseLong(f[6])
          + Long.parseLong(f[7]);
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }

  private static double cpuMs(ProcessHandle p) {
    return p == null ? 0 : p.info().totalCpuDuration().map(d -> d.toNanos() / 1e6).orElse(-1.0);
  }
}
