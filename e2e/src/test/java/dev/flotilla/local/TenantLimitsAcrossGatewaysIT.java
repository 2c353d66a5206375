package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.SamplingParams;
import io.fabric8.kubernetes.api.model.Pod;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A tenant's limits hold for the tenant, not per gateway replica: three gateways run as the pods of
 * one Deployment (as the chart runs them, each told its Deployment's selector), a tenant sends well
 * above its rate spread evenly over the three, and the three together admit the tenant's rate.
 *
 * <p>Each gateway's rate is measured between two of its refusals: at a refusal its bucket is empty,
 * so the requests it admits between a refusal and a later one are its refill over that time, give
 * or take one. The time is taken between the clients' receipts of the two refusals (a refusal is
 * answered at once), so a gateway that answers late, on a loaded machine, is measured over the time
 * it actually ran. Each replica's bucket (a third of the tenant's burst) holds six seconds of its
 * refill, so a replica that stalls for less than that loses nothing.
 */
@ExtendWith(FailureDump.class)
class TenantLimitsAcrossGatewaysIT {
  private static final String NAMESPACE = "flotilla-system";
  private static final String MODEL = "e2e-limits";
  private static final String TENANT = "e2e-limited";
  private static final String KEY = "flk_e2e_limited_3b7d1f9a2c";
  private static final int GATEWAYS = 3;

  /** The tenant's rate and burst: each replica refills 10/3 per second into a bucket of 20. */
  private static final double REQUESTS_PER_SECOND = 10;

  private static final int BURST = 60;

  /**
   * How long the tenant sends. The measurement starts at the first refusal after three seconds,
   * once the buckets' first fill and the requests it admitted at once are behind.
   */
  private static final Duration DRIVE = Duration.ofSeconds(15);

  private static final Duration WARM_UP = Duration.ofSeconds(3);

  /** Drives tried before the test gives up finding a conclusive one (see {@link #drive}). */
  private static final int DRIVES = 3;

  /** Each gateway is offered one request every 50 ms: 20/s, six times its share of 10/s. */
  private static final Duration SEND_EVERY = Duration.ofMillis(50);

  private static final String SELECTOR =
      "app.kubernetes.io/name=flotilla,app.kubernetes.io/instance=e2e,"
          + "app.kubernetes.io/component=gateway";

  static LocalSystem system;
  private static final List<ManagedChannel> channels = new ArrayList<>();
  private static final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void startThreeGateways() throws Exception {
    assumeTrue(
        LocalSystem.workerHasEngine(),
        "the worker was built without its native engine (-Dnative.skip)");
    system = LocalSystem.start("e2e-limits", 160, "--no-kafka");
    system.apply(
        LocalSystem.tenant(
            TENANT,
            KEY,
            "[\"default/" + MODEL + "\"]",
            "requestsPerSecond: %s\n    burst: %d".formatted(REQUESTS_PER_SECOND, BURST)));
    system.applyModel(MODEL, 8, "minReplicas: 1\nmaxReplicas: 1", 1);
    system.apply(gatewayDeployment());
    await()
        .atMost(Duration.ofSeconds(180))
        .untilAsserted(
            () ->
                assertThat(gatewayPods())
                    .hasSize(GATEWAYS)
                    .allSatisfy(p -> assertThat(DeploymentController.isReady(p)).isTrue()));
    for (Pod pod : gatewayPods()) {
      channels.add(
          ManagedChannelBuilder.forTarget(LocalSystem.grpcAddress(pod)).usePlaintext().build());
    }
    // Every gateway knows the tenant and a ready worker, and counts three replicas.
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              for (Pod pod : gatewayPods()) {
                assertThat(gauge(metrics(pod), "flotilla_gateway_limit_replicas"))
                    .as("replicas %s counts", pod.getMetadata().getName())
                    .isEqualTo(GATEWAYS);
              }
              for (int g = 0; g < GATEWAYS; g++) {
                Generation probe =
                    Generation.start(TENANT, stub(g), request("probe-" + g)).await(30);
                assertThat(probe.error()).as("gateway %d: %s", g, probe).isNull();
              }
            });
  }

  @AfterAll
  static void stopTheSystem() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (system != null) {
      system.close();
    }
  }

  @Test
  void threeGatewaysTogetherAdmitTheTenantsRate() throws Exception {
    List<String> inconclusive = new ArrayList<>();
    for (int attempt = 1; attempt <= DRIVES; attempt++) {
      Drive drive = drive(attempt);
      system.record("admitted-" + attempt + ".txt", drive.summary());
      if (!drive.conclusive()) {
        inconclusive.add(drive.summary());
        continue;
      }
      assertThat(drive.admittedPerSecond())
          .as("requests per second the three gateways admitted together: %s", drive.summary())
          .isBetween(REQUESTS_PER_SECOND * 0.9, REQUESTS_PER_SECOND * 1.1);
      return;
    }
    throw new AssertionError(
        "no drive measured three steady gateways over long enough windows: " + inconclusive);
  }

  /**
   * Sends the tenant's requests to the three gateways for {@link #DRIVE} and measures what they
   * admitted between refusals. The drive is conclusive when every gateway counted three replicas
   * before and after it and each gateway's window between refusals spans a third of the drive: a
   * machine that stalls the gateways long enough for a readiness probe to fail changes the replica
   * count, and with it the shares, so such a drive says nothing about the shares.
   */
  private Drive drive(int attempt) throws Exception {
    boolean steadyBefore = everyGatewayCountsThree();
    List<List<Call>> calls = new ArrayList<>();
    for (int g = 0; g < GATEWAYS; g++) {
      calls.add(new CopyOnWriteArrayList<>());
    }
    AtomicInteger ids = new AtomicInteger();
    ScheduledExecutorService sender = Executors.newSingleThreadScheduledExecutor();
    long t0 = System.nanoTime();
    sender.scheduleAtFixedRate(
        () -> {
          for (int g = 0; g < GATEWAYS; g++) {
            Call call = new Call();
            calls.get(g).add(call);
            stub(g).generate(request("r" + attempt + "-" + ids.incrementAndGet()), call);
          }
        },
        0,
        SEND_EVERY.toMillis(),
        TimeUnit.MILLISECONDS);
    Thread.sleep(DRIVE.toMillis());
    sender.shutdown();
    assertThat(sender.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    for (List<Call> sent : calls) {
      for (Call c : sent) {
        c.done.get(60, TimeUnit.SECONDS);
      }
    }
    boolean steadyAfter = everyGatewayCountsThree();
    assertThat(ids.get() / DRIVE.toSeconds())
        .as("the tenant sent well above its limit")
        .isGreaterThan(3 * (long) REQUESTS_PER_SECOND);

    double admittedPerSecond = 0;
    double shortest = Double.MAX_VALUE;
    int admittedInAll = 0;
    List<String> perGateway = new ArrayList<>();
    for (int g = 0; g < GATEWAYS; g++) {
      List<Call> sent = calls.get(g);
      List<Integer> refused = new ArrayList<>();
      for (int i = 0; i < sent.size(); i++) {
        if (sent.get(i).refusedForRate() && sent.get(i).sentNanos >= t0 + WARM_UP.toNanos()) {
          refused.add(i);
        }
      }
      assertThat(refused)
          .as("gateway %d refused some of the tenant's requests", g)
          .hasSizeGreaterThan(1);
      Call first = sent.get(refused.get(0));
      Call last = sent.get(refused.get(refused.size() - 1));
      List<Call> between = sent.subList(refused.get(0) + 1, refused.get(refused.size() - 1));
      List<Call> admitted = between.stream().filter(c -> !c.refusedForRate()).toList();
      assertThat(admitted)
          .as("gateway %d: admitted requests are answered; only the rate limit refuses", g)
          .allSatisfy(
              c -> assertThat(c.status.getCode()).as("%s", c.status).isEqualTo(Status.Code.OK));
      double seconds = (last.endNanos - first.endNanos) / 1e9;
      shortest = Math.min(shortest, seconds);
      admittedPerSecond += admitted.size() / seconds;
      admittedInAll += admitted.size();
      perGateway.add("%d in %.1f s".formatted(admitted.size(), seconds));
    }
    boolean conclusive =
        steadyBefore && steadyAfter && shortest > DRIVE.toSeconds() / 3.0 && admittedInAll > 50;
    String summary =
        "drive %d: tenant limit %.0f/s; admitted %.2f/s over %d gateways (%s), %d requests sent;"
                .formatted(
                    attempt,
                    REQUESTS_PER_SECOND,
                    admittedPerSecond,
                    GATEWAYS,
                    String.join(", ", perGateway),
                    ids.get())
            + " three replicas counted before: %s, after: %s".formatted(steadyBefore, steadyAfter);
    return new Drive(admittedPerSecond, conclusive, summary);
  }

  private record Drive(double admittedPerSecond, boolean conclusive, String summary) {}

  private static boolean everyGatewayCountsThree() throws IOException, InterruptedException {
    for (Pod pod : gatewayPods()) {
      if (gauge(metrics(pod), "flotilla_gateway_limit_replicas") != GATEWAYS) {
        return false;
      }
    }
    return true;
  }

  /** One request of the drive as its client saw it: sent, then answered or refused. */
  private static final class Call implements StreamObserver<GenerateResponse> {
    final long sentNanos = System.nanoTime();
    final CompletableFuture<Call> done = new CompletableFuture<>();
    volatile long endNanos;
    volatile Status status;

    @Override
    public void onNext(GenerateResponse value) {}

    @Override
    public void onError(Throwable t) {
      finish(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      finish(Status.OK);
    }

    private void finish(Status s) {
      endNanos = System.nanoTime();
      status = s;
      done.complete(this);
    }

    boolean refusedForRate() {
      return status.getCode() == Status.Code.RESOURCE_EXHAUSTED
          && status.getDescription() != null
          && status.getDescription().contains("requests per second");
    }
  }

  private static GenerateRequest request(String id) {
    return GenerateRequest.newBuilder()
        .setRequestId(id)
        .setModel(MODEL)
        .setPrompt("Once")
        .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(1))
        .build();
  }

  private static InferenceGrpc.InferenceStub stub(int gateway) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + KEY);
    return InferenceGrpc.newStub(channels.get(gateway))
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static List<Pod> gatewayPods() {
    return system
        .client()
        .pods()
        .inNamespace(NAMESPACE)
        .withLabelSelector(SELECTOR)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
        .toList();
  }

  private static String metrics(Pod pod) throws IOException, InterruptedException {
    String port =
        pod.getMetadata().getAnnotations().get(PodNetwork.PORT_ANNOTATION_PREFIX + "metrics");
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create("http://" + pod.getStatus().getPodIP() + ":" + port + "/q/metrics"))
            .build();
    return http.send(request, HttpResponse.BodyHandlers.ofString()).body();
  }

  private static double gauge(String metrics, String name) {
    Matcher m =
        Pattern.compile("(?m)^" + name + "(?:\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(metrics);
    if (!m.find()) {
      throw new AssertionError(name + " is not among the metrics");
    }
    return Double.parseDouble(m.group(1));
  }

  /**
   * Three gateways as the chart deploys them, run by the local node: the gateway's selector and
   * namespace in its environment, its pod name as its id (the host name in a cluster), its TLS
   * Secret mounted, and a readiness probe on {@code /q/health/ready}.
   */
  private static String gatewayDeployment() {
    String labels =
        "{app.kubernetes.io/name: flotilla, app.kubernetes.io/instance: e2e,"
            + " app.kubernetes.io/component: gateway}";
    LocalSettings settings = system.local.settings();
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: e2e-gateway
          namespace: %1$s
        spec:
          replicas: %2$d
          selector:
            matchLabels: %3$s
          template:
            metadata:
              labels: %3$s
            spec:
              containers:
                - name: gateway
                  image: flotilla-dev/flotilla-gateway:e2e
                  command: ["%4$s", "-XX:+UseSerialGC", "-jar", "%5$s"]
                  ports:
                    - name: grpc
                      containerPort: 9000
                    - name: http
                      containerPort: 8080
                    - name: metrics
                      containerPort: 9090
                  env:
                    - name: KUBECONFIG
                      value: "%6$s"
                    - name: QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL
                      value: "%7$s"
                    - name: QUARKUS_KUBERNETES_CLIENT_TRUST_CERTS
                      value: "true"
                    - name: FLOTILLA_GATEWAY_ID
                      valueFrom:
                        fieldRef:
                          fieldPath: metadata.name
                    - name: FLOTILLA_GATEWAY_REPLICAS_SELECTOR
                      value: "%8$s"
                    - name: FLOTILLA_GATEWAY_REPLICAS_NAMESPACE
                      valueFrom:
                        fieldRef:
                          fieldPath: metadata.namespace
                    - name: FLOTILLA_GATEWAY_MTLS_DIR
                      value: /var/run/flotilla/mtls
                  readinessProbe:
                    httpGet:
                      path: /q/health/ready
                      port: http
                  volumeMounts:
                    - name: mtls
                      mountPath: /var/run/flotilla/mtls
                      readOnly: true
              volumes:
                - name: mtls
                  secret:
                    secretName: %9$s
        """
        .formatted(
            NAMESPACE,
            GATEWAYS,
            labels,
            ProcessSupervisor.javaCommand(),
            settings.jar("gateway"),
            settings.kubeconfig(),
            system.local.api().url(),
            SELECTOR,
            LocalMode.GATEWAY_MTLS_SECRET);
  }
}
