package dev.flotilla.local;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/**
 * {@code ./flotilla local}: the whole system on this machine with no cluster. Starts, in order, the
 * in-memory API server (CRDs installed, kubeconfig written), the controller stand-ins and the node
 * agent, Kafka (in parallel with the rest), the operator and the gateway as processes, then
 * generates the tiny model and adapters, applies {@code examples/} and prints how to call it.
 * Ctrl-C stops everything it started.
 *
 * <p>The whole-system tests start it too (free ports, a state directory under {@code target/}) and
 * reach into it: the API client, the processes, and stopping and starting the operator, the gateway
 * or Kafka.
 */
public final class LocalMode {
  private static final String SYSTEM_NAMESPACE = "flotilla-system";

  /**
   * The Secrets the operator keeps in its namespace (as the chart names them for a release): the
   * internal CA, and the TLS Secrets the gateway and the operator mount.
   */
  static final String CA_SECRET = "flotilla-ca";

  static final String GATEWAY_MTLS_SECRET = "flotilla-gateway-mtls";
  static final String OPERATOR_MTLS_SECRET = "flotilla-operator-mtls";

  private final LocalSettings settings;
  private final int firstPodHost;
  private final PrintStream out;
  private final ProcessSupervisor supervisor = new ProcessSupervisor();
  private final List<AutoCloseable> started = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

  /** Environment and HTTP port of each Quarkus process, to start it again. */
  private final Map<String, Map<String, String>> quarkusEnv = new LinkedHashMap<>();

  private final Map<String, Integer> quarkusHttpPort = new LinkedHashMap<>();
  private final Map<String, ProcessSupervisor.Child> quarkus = new ConcurrentHashMap<>();
  private ApiServer api;
  private volatile KafkaBroker broker;
  private ModelAssets.Paths assets;

  LocalMode(LocalSettings settings) {
    this(settings, 2, System.out);
  }

  /**
   * @param firstPodHost last byte of the first pod address (127.0.0.{@code firstPodHost})
   * @param out where progress and the final instructions are printed
   */
  public LocalMode(LocalSettings settings, int firstPodHost, PrintStream out) {
    this.settings = settings;
    this.firstPodHost = firstPodHost;
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    System.setProperty(
        "org.slf4j.simpleLogger.defaultLogLevel",
        System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
    System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "error");
    System.setProperty(
        "org.slf4j.simpleLogger.log.io.fabric8.kubernetes.client.dsl.internal.VersionUsageUtils",
        "error");
    if (List.of(args).contains("--help")) {
      System.out.print(LocalSettings.usage());
      return;
    }
    LocalSettings settings =
        LocalSettings.parse(
            Path.of(System.getProperty("flotilla.repo.root", ".")).toAbsolutePath().normalize(),
            args);
    LocalMode local = new LocalMode(settings);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  local.stop();
                  stopped.countDown();
                },
                "flotilla-local-shutdown"));
    try {
      local.start();
    } catch (Exception e) {
      System.err.println("flotilla local: " + e.getMessage() + "\n  logs: " + settings.logs());
      System.exit(1);
    }
    stopped.await();
  }

  public void start() throws Exception {
    for (String module : List.of("operator", "gateway", "worker")) {
      if (!Files.exists(settings.jar(module))) {
        throw new IOException(
            settings.jar(module)
                + " is missing: build it with ./mvnw -pl "
                + module
                + " -am install -DskipTests");
      }
    }
    Files.createDirectories(settings.logs());
    long t0 = System.nanoTime();

    step("API server");
    api =
        ApiServer.start(
            settings.apiPort(), (ns, pod) -> NodeAgent.logFile(settings.logs(), ns, pod));
    started.add(api);
    api.installCrds(settings.repo().resolve("crds"));
    api.createNamespaces("default", SYSTEM_NAMESPACE);
    api.writeKubeconfig(settings.kubeconfig(), "default");

    started.add(new GarbageCollector(api.client()).start());
    started.add(new DeploymentController(api.client()).start());
    PodNetwork network = PodNetwork.detect(firstPodHost);
    PodCommands images =
        new PodCommands()
            .image(
                "flotilla-worker",
                List.of(
                    ProcessSupervisor.javaCommand(),
                    "-XX:+UseSerialGC",
                    "-jar",
                    settings.jar("worker").toString()));
    started.add(
        new NodeAgent(
                api.client(),
                supervisor,
                images,
                network,
                settings.logs(),
                settings.state().resolve("pods"),
                settings.claims(),
                Map.of())
            .start());

    CompletableFuture<KafkaBroker> kafka =
        settings.kafka()
            ? CompletableFuture.supplyAsync(this::startKafka)
            : CompletableFuture.completedFuture(null);

    step("operator");
    Map<String, String> kube = kubernetesEnv(api);
    Map<String, String> operatorEnv = new LinkedHashMap<>(kube);
    operatorEnv.putAll(
        Map.of(
            "POD_NAMESPACE",
            SYSTEM_NAMESPACE,
            "QUARKUS_HTTP_HOST",
            "127.0.0.1",
            "QUARKUS_HTTP_PORT",
            String.valueOf(settings.operatorHttpPort()),
            "QUARKUS_GRPC_SERVER_HOST",
            "127.0.0.1",
            "QUARKUS_GRPC_SERVER_PORT",
            String.valueOf(settings.operatorGrpcPort())));
    // The operator's identity in the leader Lease. A fixed one lets a restarted operator take its
    // Lease back at once, as a restarted container in the same pod does, instead of waiting for
    // the old holder's lease to lapse before it reconciles and takes demand again.
    operatorEnv.put("HOSTNAME", "flotilla-local-operator");
    // Its CA and certificates, and its own certificate mounted as the chart mounts it: a Secret
    // volume (optional, filled once the operator has issued it) that the node's Secret volume
    // code keeps current.
    SecretMounts controlPlaneVolumes = new SecretMounts(api.client()).start();
    started.add(controlPlaneVolumes);
    Path operatorMtls = settings.state().resolve("operator/mtls");
    controlPlaneVolumes.mount(
        "operator",
        List.of(
            new SecretMounts.Mount(SYSTEM_NAMESPACE, OPERATOR_MTLS_SECRET, true, operatorMtls)));
    operatorEnv.put("FLOTILLA_OPERATOR_MTLS_DIR", operatorMtls.toString());
    operatorEnv.put("FLOTILLA_OPERATOR_MTLS_CA_SECRET", CA_SECRET);
    operatorEnv.put("FLOTILLA_OPERATOR_MTLS_GATEWAY_SECRET", GATEWAY_MTLS_SECRET);
    operatorEnv.put("FLOTILLA_OPERATOR_MTLS_OPERATOR_SECRET", OPERATOR_MTLS_SECRET);
    startQuarkus("operator", operatorEnv, settings.operatorHttpPort());

    step("Kafka");
    broker = kafka.join();
    step("gateway");
    Map<String, String> gatewayEnv = new LinkedHashMap<>(kube);
    gatewayEnv.putAll(
        Map.of(
            "QUARKUS_HTTP_HOST",
            "127.0.0.1",
            "QUARKUS_HTTP_PORT",
            String.valueOf(settings.gatewayHttpPort()),
            "QUARKUS_GRPC_SERVER_HOST",
            "127.0.0.1",
            "QUARKUS_GRPC_SERVER_PORT",
            String.valueOf(settings.gatewayGrpcPort()),
            "FLOTILLA_GATEWAY_ID",
            "local",
            "FLOTILLA_GATEWAY_AUTOSCALER_ADDRESS",
            "127.0.0.1:" + settings.operatorGrpcPort(),
            "FLOTILLA_GATEWAY_USAGE_SPOOL_DIR",
            settings.state().resolve("gateway/usage-spool").toString()));
    if (broker != null) {
      gatewayEnv.put("FLOTILLA_GATEWAY_USAGE_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrapServers());
    }
    // /q/metrics is on the management interface only, as in a cluster.
    gatewayEnv.put("QUARKUS_MANAGEMENT_HOST", "127.0.0.1");
    gatewayEnv.put("QUARKUS_MANAGEMENT_PORT", String.valueOf(settings.gatewayManagementPort()));
    Path gatewayMtls = settings.state().resolve("gateway/mtls");
    controlPlaneVolumes.mount(
        "gateway",
        List.of(new SecretMounts.Mount(SYSTEM_NAMESPACE, GATEWAY_MTLS_SECRET, true, gatewayMtls)));
    gatewayEnv.put("FLOTILLA_GATEWAY_MTLS_DIR", gatewayMtls.toString());
    startQuarkus("gateway", gatewayEnv, settings.gatewayHttpPort());

    step("models and examples");
    assets = ModelAssets.ensure(settings.state().resolve("models"));
    ExamplesInstaller.apply(
        api.client(),
        settings.repo().resolve("examples"),
        Map.of(
            ModelAssets.MODEL, assets.model(),
            ModelAssets.ACME_ADAPTER, assets.acmeAdapter(),
            ModelAssets.GLOBEX_ADAPTER, assets.globexAdapter()));

    out.println(
        Instructions.text(
            settings, api, network, broker, Duration.ofNanos(System.nanoTime() - t0)));
  }

  private KafkaBroker startKafka() {
    try {
      String classpath = System.getProperty("java.class.path");
      return KafkaBroker.start(
          supervisor,
          classpath,
          settings.state().resolve("kafka"),
          settings.logs().resolve("kafka.log"),
          settings.kafkaPort(),
          List.of("flotilla.usage"),
          Duration.ofSeconds(90));
    } catch (IOException e) {
      throw new IllegalStateException(e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private Map<String, String> kubernetesEnv(ApiServer api) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("KUBECONFIG", settings.kubeconfig().toString());
    env.put("QUARKUS_KUBERNETES_CLIENT_API_SERVER_URL", api.url());
    env.put("QUARKUS_KUBERNETES_CLIENT_TRUST_CERTS", "true");
    env.put("QUARKUS_KUBERNETES_CLIENT_NAMESPACE", "default");
    return env;
  }

  private void startQuarkus(String module, Map<String, String> env, int httpPort)
      throws IOException, InterruptedException {
    quarkusEnv.put(module, Map.copyOf(env));
    quarkusHttpPort.put(module, httpPort);
    startQuarkus(module);
  }

  /**
   * Starts the operator or the gateway again, as it was started first, and waits until it is live.
   * The one running now must have been stopped ({@link #kill}).
   */
  public void startQuarkus(String module) throws IOException, InterruptedException {
    Map<String, String> env = quarkusEnv.get(module);
    int httpPort = quarkusHttpPort.get(module);
    Path log = settings.logs().resolve(module + ".log");
    ProcessSupervisor.Child child =
        supervisor.start(
            module,
            List.of(
                ProcessSupervisor.javaCommand(),
                "-XX:+UseSerialGC",
                "-jar",
                settings.jar(module).toString()),
            env,
            log,
            settings.state().resolve(module));
    quarkus.put(module, child);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < deadline) {
      if (!child.isAlive()) {
        throw new IOException(
            module + " exited with " + child.process().exitValue() + "; see " + log);
      }
      try {
        HttpRequest live =
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/q/health/live"))
                .timeout(Duration.ofSeconds(1))
                .build();
        if (http.send(live, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(200);
    }
    throw new IOException(module + " did not answer /q/health/live within 60 s; see " + log);
  }

  private void step(String what) {
    out.println("flotilla local: starting " + what + "...");
  }

  // --- for the whole-system tests ---

  public LocalSettings settings() {
    return settings;
  }

  public KubernetesClient client() {
    return api.client();
  }

  public ApiServer api() {
    return api;
  }

  public ProcessSupervisor supervisor() {
    return supervisor;
  }

  /** The running broker; {@code null} while stopped or with {@code --no-kafka}. */
  public KafkaBroker kafka() {
    return broker;
  }

  /** The generated model and adapters the examples point at. */
  public ModelAssets.Paths assets() {
    return assets;
  }

  /** The process of {@code "operator"} or {@code "gateway"}. */
  public ProcessSupervisor.Child process(String module) {
    return quarkus.get(module);
  }

  /** SIGKILL to the operator or the gateway, as a crash would; returns once it is gone. */
  public void kill(String module) {
    supervisor.kill(quarkus.remove(module));
  }

  /** Stops the broker (SIGTERM); its data stays for {@link #restartKafka()}. */
  public void stopKafka() {
    KafkaBroker b = broker;
    broker = null;
    if (b != null) {
      b.close();
    }
  }

  /** Starts the broker again on the same port with the same data. */
  public KafkaBroker restartKafka() {
    if (broker == null) {
      broker = startKafka();
    }
    return broker;
  }

  public void stop() {
    out.println("\nflotilla local: stopping everything it started...");
    // Pods first (the node agent stops their processes), then the rest in reverse order of start.
    for (int i = started.size() - 1; i >= 0; i--) {
      try {
        started.get(i).close();
      } catch (Exception e) {
        System.err.println("flotilla local: " + e);
      }
    }
    supervisor.close();
  }
}
