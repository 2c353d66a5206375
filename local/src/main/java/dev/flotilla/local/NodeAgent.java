package dev.flotilla.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The kubelet of the one local node: every pod it is given becomes a local process (see {@link
 * PodCommands}) with the container's environment, an address from {@link PodNetwork} ({@code
 * QUARKUS_HTTP_*} and {@code QUARKUS_GRPC_SERVER_*} set to it for ports named {@code http} and
 * {@code grpc}) and its output in {@code <logDir>/<pod>.log}. The pod turns Ready when its
 * readiness probe passes (a gRPC probe is asked of Quarkus' {@code /q/health/ready} on the
 * container's {@code http} port), its process is restarted with back-off when it exits, and it is
 * stopped (SIGTERM, then SIGKILL after the pod's grace period) when the pod is deleted. A finalizer
 * keeps a deleted pod visible as Terminating until its process is gone.
 *
 * <p>Secret volumes are written to a directory per pod and kept current ({@link SecretMounts}); the
 * container's environment sees its mount paths as those directories ({@link PodVolumes}). An
 * emptyDir is a directory per pod, and a PersistentVolumeClaim the directory {@code <claims
 * dir>/<claim>} (by default {@code .flotilla/pvc/<claim>}). A pod whose required Secret does not
 * exist yet, or whose claim has no directory, waits in ContainerCreating, as on a cluster.
 *
 * <p>One container per pod; init containers, other volumes, resource limits, node selectors and
 * liveness probes are not acted on.
 */
public final class NodeAgent implements AutoCloseable {
  public static final String NODE_NAME = "flotilla-local";
  public static final String FINALIZER = "flotilla.dev/local-node";
  private static final Logger LOG = Logger.getLogger(NodeAgent.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final PatchContext MERGE = PatchContext.of(PatchType.JSON_MERGE);
  private static final Duration PROBE_PERIOD = Duration.ofMillis(250);

  private final KubernetesClient client;
  private final ProcessSupervisor supervisor;
  private final PodCommands commands;
  private final PodNetwork network;
  private final Path logDir;
  private final Path workRoot;
  private final Map<String, String> labelSelector;
  private final SecretMounts secretVolumes;
  private final Path claimsDir;
  private final Map<String, RunningPod> running = new ConcurrentHashMap<>();
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "node-agent");
            t.setDaemon(true);
            return t;
          });
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
  private SharedIndexInformer<Pod> informer;

  /** What the agent knows of one pod it runs. */
  private static final class RunningPod {
    final Pod pod;
    final PodNetwork.Assignment address;
    final Instant started = Instant.now();
    ProcessSupervisor.Child child;
    boolean ready;
    int restarts;
    Instant restartAt;
    Integer lastExitCode;

    /**
     * Why the container has not started (a Secret volume's Secret or a claim's directory is
     * missing); null once it has.
     */
    String waitingFor;

    RunningPod(Pod pod, PodNetwork.Assignment address) {
      this.pod = pod;
      this.address = address;
    }
  }

  /**
   * @param labelSelector only pods with these labels run here (empty: every pod)
   */
  public NodeAgent(
      KubernetesClient client,
      ProcessSupervisor supervisor,
      PodCommands commands,
      PodNetwork network,
      Path logDir,
      Path workRoot,
      Map<String, String> labelSelector) {
    this(
        client,
        supervisor,
        commands,
        network,
        logDir,
        workRoot,
        workRoot.toAbsolutePath().getParent().resolve("pvc"),
        labelSelector);
  }

  /**
   * @param claimsDir where each PersistentVolumeClaim's files are, as {@code <claimsDir>/<claim>}
   * @param labelSelector only pods with these labels run here (empty: every pod)
   */
  public NodeAgent(
      KubernetesClient client,
      ProcessSupervisor supervisor,
      PodCommands commands,
      PodNetwork network,
      Path logDir,
      Path workRoot,
      Path claimsDir,
      Map<String, String> labelSelector) {
    this.claimsDir = claimsDir;
    this.client = client;
    this.supervisor = supervisor;
    this.commands = commands;
    this.network = network;
    this.logDir = logDir;
    this.workRoot = workRoot;
    this.labelSelector = labelSelector;
    this.secretVolumes = new SecretMounts(client);
  }

  /** Where the log of a pod this agent runs (or ran) is. */
  public static Path logFile(Path logDir, String namespace, String pod) {
    return logDir.resolve(("default".equals(namespace) ? "" : namespace + "_") + pod + ".log");
  }

  public NodeAgent start() {
    secretVolumes.start();
    var pods = client.pods().inAnyNamespace();
    informer =
        (labelSelector.isEmpty() ? pods : pods.withLabels(labelSelector))
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    loop.execute(() -> onPod(pod));
                  }

                  @Override
                  public void onUpdate(Pod old, Pod pod) {
                    loop.execute(() -> onPod(pod));
                  }

                  @Override
                  public void onDelete(Pod pod, boolean finalStateUnknown) {
                    loop.execute(() -> stopPod(key(pod), false));
                  }
                });
    loop.scheduleWithFixedDelay(
        this::probeAll, PROBE_PERIOD.toMillis(), PROBE_PERIOD.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  private static String key(Pod pod) {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  private void onPod(Pod pod) {
    try {
      String key = key(pod);
      if (pod.getMetadata().getDeletionTimestamp() != null) {
        stopPod(key, true);
        return;
      }
      RunningPod r = running.get(key);
      if (r != null && r.pod.getMetadata().getUid().equals(pod.getMetadata().getUid())) {
        return;
      }
      String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      if ("Succeeded".equals(phase)
          || "Failed".equals(phase)
          || "Running".equals(phase) && r == null) {
        return; // finished, or run by an agent before this one
      }
      launch(pod);
    } catch (RuntimeException | IOException e) {
      LOG.log(Level.WARNING, "pod " + key(pod) + ": " + e.getMessage(), e);
    }
  }

  private void launch(Pod pod) throws IOException {
    Container container = pod.getSpec().getContainers().get(0);
    Optional<List<String>> command = commands.commandFor(container);
    if (command.isEmpty()) {
      patchStatus(
          pod,
          failedStatus(
              "ImageNotLocal",
              "no local command for image "
                  + container.getImage()
                  + " (give the container a command, or map the image in PodCommands)"));
      return;
    }
    PodNetwork.Assignment address = network.assign(pod);
    RunningPod r = new RunningPod(pod, address);
    running.put(key(pod), r);
    ObjectNode meta = JSON.createObjectNode();
    ObjectNode metadata = meta.putObject("metadata");
    metadata.putArray("finalizers").add(FINALIZER);
    ObjectNode annotations = metadata.putObject("annotations");
    address
        .ports()
        .forEach(
            (name, port) ->
                annotations.put(PodNetwork.PORT_ANNOTATION_PREFIX + name, String.valueOf(port)));
    meta.putObject("spec").put("nodeName", NODE_NAME);
    try {
      client
          .pods()
          .inNamespace(pod.getMetadata().getNamespace())
          .withName(pod.getMetadata().getName())
          .patch(MERGE, meta.toString());
    } catch (KubernetesClientException e) {
      running.remove(key(pod));
      network.release(address);
      return; // deleted meanwhile
    }
    startProcess(r, command.get(), container);
  }

  private void startProcess(RunningPod r, List<String> command, Container container)
      throws IOException {
    Pod pod = r.pod;
    Path podDir =
        workRoot.resolve(pod.getMetadata().getNamespace() + "_" + pod.getMetadata().getName());
    PodVolumes volumes = PodVolumes.of(pod, container, podDir, claimsDir);
    Optional<String> missing = missingClaim(volumes);
    if (missing.isEmpty()) {
      missing =
          secretVolumes
              .mount(key(pod), volumes.secrets())
              .map(secret -> "secret \"" + secret + "\" not found");
    }
    if (missing.isPresent()) {
      String waiting = missing.get();
      r.restartAt = Instant.now().plusSeconds(1);
      if (!waiting.equals(r.waitingFor)) {
        r.waitingFor = waiting;
        patchStatus(pod, runningStatus(r));
      }
      return;
    }
    r.waitingFor = null;
    for (Path dir : volumes.emptyDirs()) {
      Files.createDirectories(dir);
    }
    Map<String, String> env = environment(pod, container, r.address, volumes);
    Path log = logFile(logDir, pod.getMetadata().getNamespace(), pod.getMetadata().getName());
    r.child = supervisor.start("pod " + key(pod), command, env, log, podDir);
    r.ready = false;
    patchStatus(pod, runningStatus(r));
  }

  /** A claim whose directory is not there keeps the pod waiting, as an unbound claim does. */
  private static Optional<String> missingClaim(PodVolumes volumes) {
    return volumes.claims().entrySet().stream()
        .filter(e -> !Files.isDirectory(e.getValue()))
        .findFirst()
        .map(
            e ->
                "persistentvolumeclaim \""
                    + e.getKey()
                    + "\" has no directory "
                    + e.getValue()
                    + " (local mode keeps a claim's files there)");
  }

  private Map<String, String> environment(
      Pod pod, Container container, PodNetwork.Assignment address, PodVolumes volumes) {
    Map<String, String> env = new LinkedHashMap<>();
    Integer httpPort = address.ports().get("http");
    Integer grpcPort = address.ports().get("grpc");
    if (httpPort != null) {
      env.put("QUARKUS_HTTP_HOST", address.ip());
      env.put("QUARKUS_HTTP_PORT", String.valueOf(httpPort));
    }
    if (grpcPort != null) {
      env.put("QUARKUS_GRPC_SERVER_HOST", address.ip());
      env.put("QUARKUS_GRPC_SERVER_PORT", String.valueOf(grpcPort));
    }
    // The chart's name for Quarkus' management interface (the gateway's /q/metrics).
    Integer metricsPort = address.ports().get("metrics");
    if (metricsPort != null) {
      env.put("QUARKUS_MANAGEMENT_HOST", address.ip());
      env.put("QUARKUS_MANAGEMENT_PORT", String.valueOf(metricsPort));
    }
    if (container.getEnv() != null) {
      for (EnvVar e : container.getEnv()) {
        String value = e.getValue() != null ? e.getValue() : valueFrom(pod, e, address);
        if (value != null) {
          env.put(e.getName(), volumes.translate(value));
        }
      }
    }
    return env;
  }

  private String valueFrom(Pod pod, EnvVar e, PodNetwork.Assignment address) {
    if (e.getValueFrom() == null) {
      return "";
    }
    if (e.getValueFrom().getFieldRef() != null) {
      String field = e.getValueFrom().getFieldRef().getFieldPath();
      return switch (field) {
        case "metadata.name" -> pod.getMetadata().getName();
        case "metadata.namespace" -> pod.getMetadata().getNamespace();
        case "metadata.uid" -> pod.getMetadata().getUid();
        case "status.podIP", "status.hostIP" -> address.ip();
        case "spec.nodeName" -> NODE_NAME;
        default -> null;
      };
    }
    if (e.getValueFrom().getSecretKeyRef() != null) {
      Secret s =
          client
              .secrets()
              .inNamespace(pod.getMetadata().getNamespace())
              .withName(e.getValueFrom().getSecretKeyRef().getName())
              .get();
      String key = e.getValueFrom().getSecretKeyRef().getKey();
      if (s != null && s.getData() != null && s.getData().containsKey(key)) {
        return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
      }
      return s != null && s.getStringData() != null ? s.getStringData().get(key) : null;
    }
    if (e.getValueFrom().getConfigMapKeyRef() != null) {
      var cm =
          client
              .configMaps()
              .inNamespace(pod.getMetadata().getNamespace())
              .withName(e.getValueFrom().getConfigMapKeyRef().getName())
              .get();
      return cm == null || cm.getData() == null
          ? null
          : cm.getData().get(e.getValueFrom().getConfigMapKeyRef().getKey());
    }
    return null;
  }

  // --- probing and restarts ---

  private void probeAll() {
    for (RunningPod r : running.values()) {
      try {
        probe(r);
      } catch (RuntimeException | IOException e) {
        LOG.log(Level.FINE, "probe of " + key(r.pod) + " failed", e);
      }
    }
  }

  private void probe(RunningPod r) throws IOException {
    if (r.child == null) {
      if (r.restartAt != null && Instant.now().isAfter(r.restartAt)) {
        Container container = r.pod.getSpec().getContainers().get(0);
        startProcess(r, commands.commandFor(container).orElseThrow(), container);
      }
      return;
    }
    if (!r.child.isAlive()) {
      r.lastExitCode = r.child.process().exitValue();
      r.child = null;
      r.ready = false;
      String policy =
          r.pod.getSpec().getRestartPolicy() == null
              ? "Always"
              : r.pod.getSpec().getRestartPolicy();
      boolean restart =
          policy.equals("Always") || policy.equals("OnFailure") && r.lastExitCode != 0;
      if (restart) {
        r.restarts++;
        r.restartAt = Instant.now().plusSeconds(Math.min(30, 1L << Math.min(5, r.restarts - 1)));
        patchStatus(r.pod, runningStatus(r));
      } else {
        patchStatus(r.pod, terminatedStatus(r));
      }
      return;
    }
    if (!r.ready && ready(r)) {
      r.ready = true;
      patchStatus(r.pod, runningStatus(r));
    }
  }

  private boolean ready(RunningPod r) {
    Container c = r.pod.getSpec().getContainers().get(0);
    Probe p = c.getReadinessProbe();
    if (p == null) {
      return true;
    }
    if (p.getHttpGet() != null) {
      return httpOk(
          r.address.ip(), port(p.getHttpGet().getPort(), c, r.address), p.getHttpGet().getPath());
    }
    if (p.getGrpc() != null) {
      Integer httpPort = r.address.ports().get("http");
      return httpPort != null
          ? httpOk(r.address.ip(), httpPort, "/q/health/ready")
          : tcpOpen(r.address.ip(), port(new IntOrString(p.getGrpc().getPort()), c, r.address));
    }
    if (p.getTcpSocket() != null) {
      return tcpOpen(r.address.ip(), port(p.getTcpSocket().getPort(), c, r.address));
    }
    return true;
  }

  /** The port a probe names, as this pod actually listens on it. */
  private static int port(IntOrString port, Container c, PodNetwork.Assignment address) {
    if (port.getStrVal() != null) {
      return address.ports().getOrDefault(port.getStrVal(), -1);
    }
    int number = port.getIntVal();
    for (ContainerPort p : c.getPorts()) {
      if (p.getContainerPort() == number) {
        return address
            .ports()
            .getOrDefault(p.getName() == null ? String.valueOf(number) : p.getName(), number);
      }
    }
    return number;
  }

  private boolean httpOk(String ip, int port, String path) {
    try {
      HttpRequest request =
          HttpRequest.newBuilder(
                  URI.create("http://" + ip + ":" + port + (path == null ? "/" : path)))
              .timeout(Duration.ofSeconds(1))
              .GET()
              .build();
      int code = http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
      return code >= 200 && code < 400;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static boolean tcpOpen(String ip, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(ip, port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  // --- stopping ---

  private void stopPod(String key, boolean removeFinalizer) {
    RunningPod r = running.remove(key);
    secretVolumes.unmount(key);
    String[] nsName = key.split("/", 2);
    Runnable release =
        () -> {
          if (r != null) {
            network.release(r.address);
          }
          if (removeFinalizer) {
            removeFinalizer(nsName[0], nsName[1]);
          }
        };
    if (r == null || r.child == null) {
      release.run();
      return;
    }
    Long grace = r.pod.getSpec().getTerminationGracePeriodSeconds();
    supervisor
        .stop(r.child, Duration.ofSeconds(grace == null ? 30 : grace))
        .whenComplete((ok, err) -> release.run());
  }

  private void removeFinalizer(String namespace, String name) {
    try {
      Pod pod = client.pods().inNamespace(namespace).withName(name).get();
      if (pod == null
          || pod.getMetadata().getFinalizers() == null
          || !pod.getMetadata().getFinalizers().contains(FINALIZER)) {
        return;
      }
      ObjectNode patch = JSON.createObjectNode();
      ArrayNode finalizers = patch.putObject("metadata").putArray("finalizers");
      pod.getMetadata().getFinalizers().stream()
          .filter(f -> !f.equals(FINALIZER))
          .forEach(finalizers::add);
      client.pods().inNamespace(namespace).withName(name).patch(MERGE, patch.toString());
    } catch (KubernetesClientException e) {
      LOG.log(Level.FINE, "finalizer of " + namespace + "/" + name, e);
    }
  }

  // --- status ---

  private ObjectNode runningStatus(RunningPod r) {
    ObjectNode status = baseStatus(r.pod, "Running", r.address.ip(), r.started);
    conditions(status, true, r.ready);
    ObjectNode cs = containerStatus(status, r.pod, r.ready, r.restarts);
    if (r.child != null) {
      cs.putObject("state").putObject("running").put("startedAt", Instant.now().toString());
    } else if (r.waitingFor != null) {
      cs.putObject("state")
          .putObject("waiting")
          .put("reason", "ContainerCreating")
          .put("message", r.waitingFor);
    } else {
      cs.putObject("state")
          .putObject("waiting")
          .put("reason", "CrashLoopBackOff")
          .put("message", "exited with " + r.lastExitCode + "; restarting");
    }
    if (r.lastExitCode != null) {
      cs.putObject("lastState").putObject("terminated").put("exitCode", r.lastExitCode);
    }
    return status;
  }

  private ObjectNode terminatedStatus(RunningPod r) {
    ObjectNode status =
        baseStatus(r.pod, r.lastExitCode == 0 ? "Succeeded" : "Failed", r.address.ip(), r.started);
    conditions(status, true, false);
    containerStatus(status, r.pod, false, r.restarts)
        .putObject("state")
        .putObject("terminated")
        .put("exitCode", r.lastExitCode);
    return status;
  }

  private ObjectNode failedStatus(String reason, String message) {
    ObjectNode status = JSON.createObjectNode();
    status.put("phase", "Failed");
    status.put("reason", reason);
    status.put("message", message);
    return status;
  }

  private static ObjectNode baseStatus(Pod pod, String phase, String ip, Instant started) {
    ObjectNode status = JSON.createObjectNode();
    status.put("phase", phase);
    status.put("hostIP", "127.0.0.1");
    status.put("podIP", ip);
    status.putArray("podIPs").addObject().put("ip", ip);
    status.put("startTime", started.toString());
    return status;
  }

  private static void conditions(ObjectNode status, boolean scheduled, boolean ready) {
    ArrayNode conditions = status.putArray("conditions");
    String now = Instant.now().toString();
    for (String[] c :
        List.of(
            new String[] {"PodScheduled", String.valueOf(scheduled)},
            new String[] {"Initialized", "true"},
            new String[] {"ContainersReady", String.valueOf(ready)},
            new String[] {"Ready", String.valueOf(ready)})) {
      conditions
          .addObject()
          .put("type", c[0])
          .put("status", Boolean.parseBoolean(c[1]) ? "True" : "False")
          .put("lastTransitionTime", now);
    }
  }

  private static ObjectNode containerStatus(
      ObjectNode status, Pod pod, boolean ready, int restarts) {
    Container c = pod.getSpec().getContainers().get(0);
    ObjectNode cs = status.putArray("containerStatuses").addObject();
    cs.put("name", c.getName());
    cs.put("image", c.getImage() == null ? "" : c.getImage());
    cs.put("imageID", "");
    cs.put("ready", ready);
    cs.put("started", true);
    cs.put("restartCount", restarts);
    return cs;
  }

  private void patchStatus(Pod pod, ObjectNode status) {
    ObjectNode patch = JSON.createObjectNode();
    patch.set("status", status);
    try {
      client
          .pods()
          .inNamespace(pod.getMetadata().getNamespace())
          .withName(pod.getMetadata().getName())
          .subresource("status")
          .patch(MERGE, patch.toString());
    } catch (KubernetesClientException e) {
      LOG.log(Level.FINE, "status of " + key(pod), e);
    }
  }

  @Override
  public void close() {
    secretVolumes.close();
    if (informer != null) {
      informer.close();
    }
    loop.shutdownNow();
    List<ProcessSupervisor.Child> children =
        running.values().stream().map(r -> r.child).filter(c -> c != null).toList();
    running.clear();
    children.forEach(c -> supervisor.stop(c, Duration.ofSeconds(10)).join());
  }
}
