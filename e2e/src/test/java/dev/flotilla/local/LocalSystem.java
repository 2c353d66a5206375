package dev.flotilla.local;

import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.mtls.TlsFiles;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The whole system, started once for the e2e suite: {@link LocalMode} on free ports with its state
 * under {@code target/e2e-system}, pods on 127.0.0.100 and up (so a {@code ./flotilla local} on
 * this machine, from 127.0.0.2, is not in the way), and a gRPC channel to its gateway.
 */
final class LocalSystem implements FailureDump.Fixture, AutoCloseable {
  static final String ACME_KEY = Instructions.ACME_KEY;
  static final String GLOBEX_KEY = Instructions.GLOBEX_KEY;

  /** Tenant {@code e2e}: every model, limits no scenario reaches. */
  static final String E2E_KEY = "flk_e2e_suite_5c1d9e7a3b";

  /** Tenant {@code e2e-tight}: one request, then one more every two seconds. */
  static final String TIGHT_KEY = "flk_e2e_tight_8a2f4c6e1d";

  private static final Map<String, String> TENANTS =
      Map.of(ACME_KEY, "acme", GLOBEX_KEY, "globex", E2E_KEY, "e2e", TIGHT_KEY, "e2e-tight");

  final LocalMode local;
  final Path dir;
  private final ManagedChannel channel;
  private final PrintStream out;
  private final HttpClient http = HttpClient.newHttpClient();

  private LocalSystem(LocalMode local, Path dir, ManagedChannel channel, PrintStream out) {
    this.local = local;
    this.dir = dir;
    this.channel = channel;
    this.out = out;
  }

  static LocalSystem start() throws Exception {
    return start("e2e-system", 100);
  }

  /**
   * A system of its own, for a test class that needs one beside the suite's.
   *
   * @param name its folder under {@code target/}
   * @param firstPodHost last byte of its first pod address
   * @param options more {@code ./flotilla local} options ({@code --no-kafka})
   */
  static LocalSystem start(String name, int firstPodHost, String... options) throws Exception {
    Path dir = Path.of("target", name).toAbsolutePath();
    LocalApi.deleteRecursively(dir);
    Files.createDirectories(dir.resolve("logs"));
    int grpc = PodNetwork.freePort();
    int kafka = freePortPair();
    List<String> args =
        new ArrayList<>(
            List.of(
                "--state-dir",
                dir.toString(),
                "--api-port",
                "0",
                "--kafka-port",
                String.valueOf(kafka),
                "--grpc-port",
                String.valueOf(grpc),
                "--http-port",
                String.valueOf(PodNetwork.freePort()),
                "--management-port",
                String.valueOf(PodNetwork.freePort()),
                "--operator-grpc-port",
                String.valueOf(PodNetwork.freePort()),
                "--operator-http-port",
                String.valueOf(PodNetwork.freePort())));
    args.addAll(List.of(options));
    LocalSettings settings = LocalSettings.parse(LocalApi.repoRoot(), args.toArray(String[]::new));

    PrintStream out =
        new PrintStream(
            Files.newOutputStream(dir.resolve("logs/local-mode.out")),
            true,
            StandardCharsets.UTF_8);
    LocalMode local = new LocalMode(settings, firstPodHost, out);
    try {
      local.start();
    } catch (Exception e) {
      local.stop();
      throw e;
    }
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext().build();
    return new LocalSystem(local, dir, channel, out);
  }

  /**
   * Whether the worker was built with its native engine (the jar holds a library under {@code
   * native/}); {@code -Dnative.skip} builds it without one, and then no worker can serve.
   */
  static boolean workerHasEngine() throws IOException {
    Path app = LocalApi.repoRoot().resolve("worker/target/quarkus-app/app");
    if (!Files.isDirectory(app)) {
      return false;
    }
    try (var jars = Files.list(app)) {
      for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).toList()) {
        try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(jar.toFile())) {
          if (zip.stream().anyMatch(e -> e.getName().startsWith("native/") && !e.isDirectory())) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** A port {@code p} where {@code p + 1} is free too (the broker's controller listens there). */
  private static int freePortPair() throws IOException {
    for (int i = 0; i < 50; i++) {
      int p = PodNetwork.freePort();
      try (ServerSocket next = new ServerSocket(p + 1, 1, InetAddress.getLoopbackAddress())) {
        return p;
      } catch (IOException e) {
        // taken: try another
      }
    }
    throw new IOException("no two adjacent free ports");
  }

  static String tenantOf(String apiKey) {
    return TENANTS.get(apiKey);
  }

  /** Adds the suite's own tenants ({@link #E2E_KEY}, {@link #TIGHT_KEY}) with their key Secrets. */
  void addTestTenants() throws Exception {
    apply(
        tenant(
            "e2e",
            E2E_KEY,
            "[\"*\"]",
            "requestsPerSecond: 200\n    burst: 400\n    tokensPerMinute: 10000000\n"
                + "    maxConcurrent: 64"));
    apply(
        tenant(
            "e2e-tight",
            TIGHT_KEY,
            "[\"default/tiny-llama\"]",
            "requestsPerSecond: 0.5\n    burst: 1\n"
                + "    tokensPerMinute: 100000\n    maxConcurrent: 4"));
  }

  /**
   * A Tenant and the Secret with its key's hash, as YAML.
   *
   * @param models the {@code allowedModels} list, as YAML
   * @param limits the {@code limits} fields, one per line, four spaces deep after the first
   */
  static String tenant(String name, String key, String models, String limits) throws Exception {
    String hash =
        HexFormat.of()
            .formatHex(
                MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)));
    return """
        apiVersion: v1
        kind: Secret
        metadata:
          name: %1$s-api-keys
          namespace: default
          labels:
            flotilla.dev/tenant-keys: "true"
        stringData:
          e2e: sha256:%2$s
        ---
        apiVersion: flotilla.dev/v1alpha1
        kind: Tenant
        metadata:
          name: %1$s
        spec:
          apiKeySecrets:
            - namespace: default
              name: %1$s-api-keys
          allowedModels: %3$s
          limits:
            %4$s
          weight: 1
          priority: Normal
        """
        .formatted(name, hash, models, limits);
  }

  /**
   * A ModelDeployment of the tiny model on CPU workers in {@code default}.
   *
   * @param scaling the {@code spec.scaling} fields, one per line, two spaces deep
   * @param replicas {@code spec.replicas} (pins the count), or null to leave it to the autoscaler
   */
  void applyModel(String name, int maxBatchSize, String scaling, Integer replicas) {
    applyModel(name, local.assets().model(), maxBatchSize, scaling, replicas);
  }

  /** As {@link #applyModel(String, int, String, Integer)}, of the checkpoint in {@code source}. */
  void applyModel(
      String name, java.nio.file.Path source, int maxBatchSize, String scaling, Integer replicas) {
    apply(
        """
        apiVersion: flotilla.dev/v1alpha1
        kind: ModelDeployment
        metadata:
          name: %s
          namespace: default
        spec:
          model:
            source: file://%s
            dtype: F32
          engine:
            maxBatchSize: %d
            maxSequenceLength: 1024
            kvCacheMemory: 64Mi
            maxAdaptersResident: 2
          resources:
            gpus: 0
            cpu: "1"
          scaling:
        %s
        %s"""
            .formatted(
                name,
                source,
                maxBatchSize,
                scaling.indent(4).stripTrailing(),
                replicas == null ? "" : "  replicas: " + replicas));
  }

  /** A blocking stub that calls the gateway with {@code apiKey}. */
  InferenceGrpc.InferenceBlockingStub blocking(String apiKey) {
    return InferenceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth(apiKey)));
  }

  /** An async stub that calls the gateway with {@code apiKey}. */
  InferenceGrpc.InferenceStub async(String apiKey) {
    return InferenceGrpc.newStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth(apiKey)));
  }

  private static Metadata auth(String apiKey) {
    Metadata headers = new Metadata();
    headers.put(
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + apiKey);
    return headers;
  }

  /** Creates or replaces every object in the YAML, as {@code kubectl apply} would. */
  List<HasMetadata> apply(String yaml) {
    return client()
        .load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)))
        .items()
        .stream()
        .map(o -> client().resource(o).createOr(NonDeletingOperation::update))
        .toList();
  }

  /** The worker pods of a ModelDeployment in {@code default}. */
  List<Pod> workers(String model) {
    return client()
        .pods()
        .inNamespace("default")
        .withLabel("flotilla.dev/model", model)
        .list()
        .getItems();
  }

  /** {@code ip:port} of a worker pod's gRPC port, as the gateway dials it. */
  static String grpcAddress(Pod pod) {
    return pod.getStatus().getPodIP()
        + ":"
        + pod.getMetadata().getAnnotations().get(PodNetwork.PORT_ANNOTATION_PREFIX + "grpc");
  }

  /** The gateway's certificate, key and trust bundle, where its Secret volume is mounted. */
  TlsFiles gatewayCertificate() {
    return new TlsFiles(local.settings().state().resolve("gateway/mtls"));
  }

  /** The Prometheus text a worker pod serves on its HTTP port. */
  String workerMetrics(Pod pod) throws IOException, InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    "http://"
                        + pod.getStatus().getPodIP()
                        + ":"
                        + pod.getMetadata()
                            .getAnnotations()
                            .get(PodNetwork.PORT_ANNOTATION_PREFIX + "http")
                        + "/q/metrics"))
            .build();
    return http.send(request, HttpResponse.BodyHandlers.ofString()).body();
  }

  /** The process the node agent runs for a pod. */
  ProcessSupervisor.Child process(Pod pod) {
    String name = "pod " + pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    return local.supervisor().children().stream()
        .filter(c -> c.name().equals(name) && c.isAlive())
        .findFirst()
        .orElseThrow(() -> new AssertionError("no running process for " + name));
  }

  /**
   * Sends a signal ({@code STOP}, {@code CONT}, ...) to a process, as {@code kill -<signal>} does.
   */
  static void signal(ProcessSupervisor.Child child, String signal)
      throws IOException, InterruptedException {
    Process kill =
        new ProcessBuilder("kill", "-" + signal, String.valueOf(child.pid())).inheritIO().start();
    if (kill.waitFor() != 0) {
      throw new IOException("kill -" + signal + " " + child.pid() + " failed");
    }
  }

  /** The Prometheus text the gateway serves on its management port. */
  String gatewayMetrics() throws IOException, InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    "http://127.0.0.1:" + local.settings().gatewayManagementPort() + "/q/metrics"))
            .build();
    return http.send(request, HttpResponse.BodyHandlers.ofString()).body();
  }

  /** Records one measurement under {@code target/e2e-system/}, one line per run. */
  void record(String file, String line) throws IOException {
    Files.writeString(
        dir.resolve(file),
        line + "\n",
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
  }

  @Override
  public KubernetesClient client() {
    return local.client();
  }

  @Override
  public Path logDir() {
    return local.settings().logs();
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
    local.stop();
    out.close();
  }
}
