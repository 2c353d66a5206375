package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.VersionInfo;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * The in-memory Kubernetes API server local mode runs on: Fabric8's CRUD mock server over HTTPS (a
 * self-signed certificate, so clients skip verification) on a loopback port, with {@link
 * LocalApiDispatcher} in front of its store so that the real kubectl works against it. It runs no
 * controllers: {@link DeploymentController}, {@link GarbageCollector} and {@link NodeAgent} play
 * them.
 */
public final class ApiServer implements AutoCloseable {
  /** Held so the setting is not collected: the mock server logs every request at INFO. */
  private static final java.util.logging.Logger MOCK_LOG = quiet("io.fabric8.mockwebserver");

  private final KubernetesMockServer server;
  private final KubernetesClient client;

  private ApiServer(KubernetesMockServer server) {
    this.server = server;
    this.client = server.createClient();
  }

  /**
   * Starts on {@code 127.0.0.1:port} (0 picks a free port).
   *
   * @param podLog where the log of pod (namespace, name) is, served as {@code pods/log}
   */
  public static ApiServer start(int port, BiFunction<String, String, Path> podLog) {
    Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
    int[] boundPort = new int[1];
    // The dispatcher names the server's address in /api; the port is known only after binding
    // when it is 0, so it reads it lazily.
    LocalApiDispatcher dispatcher =
        new LocalApiDispatcher(responses, () -> "127.0.0.1:" + boundPort[0], podLog);
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(Serialization.jsonMapper()),
            new MockWebServer(),
            responses,
            dispatcher,
            true);
    server.setVersionInfo(
        new VersionInfo.Builder()
            .withMajor("1")
            .withMinor("32")
            .withGitVersion("v1.32.0-flotilla-local")
            .withPlatform("linux/amd64")
            .build());
    server.start(InetAddress.getLoopbackAddress(), port);
    boundPort[0] = server.getPort();
    return new ApiServer(server);
  }

  private static java.util.logging.Logger quiet(String name) {
    java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
    logger.setLevel(java.util.logging.Level.WARNING);
    return logger;
  }

  public int port() {
    return server.getPort();
  }

  public String url() {
    return "https://127.0.0.1:" + port();
  }

  /** A client of this server (trusts its certificate); closed with the server. */
  public KubernetesClient client() {
    return client;
  }

  /** Installs every CRD YAML in {@code dir} (the repository's {@code crds/}). */
  public void installCrds(Path dir) throws IOException {
    List<Path> files;
    try (Stream<Path> list = Files.list(dir)) {
      files = list.filter(p -> p.toString().matches(".*\\.ya?ml$")).sorted().toList();
    }
    for (Path file : files) {
      try (InputStream in = Files.newInputStream(file)) {
        client.apiextensions().v1().customResourceDefinitions().load(in).createOr(c -> c.update());
      }
    }
  }

  /**
   * Creates the namespaces unless they exist (the store does not require them; kubectl users expect
   * them).
   */
  public void createNamespaces(String... names) {
    for (String name : names) {
      if (client.namespaces().withName(name).get() == null) {
        client
            .namespaces()
            .resource(
                new NamespaceBuilder()
                    .withNewMetadata()
                    .withName(name)
                    .endMetadata()
                    .withNewStatus()
                    .withPhase("Active")
                    .endStatus()
                    .build())
            .create();
      }
    }
  }

  /** Writes a kubeconfig for kubectl and any Kubernetes client; context {@code flotilla-local}. */
  public Path writeKubeconfig(Path file, String namespace) throws IOException {
    String yaml =
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: flotilla-local
          cluster:
            server: %s
            # The in-memory API server has a fresh self-signed certificate on every start.
            insecure-skip-tls-verify: true
        users:
        - name: flotilla-local
          user:
            token: flotilla-local
        contexts:
        - name: flotilla-local
          context:
            cluster: flotilla-local
            user: flotilla-local
            namespace: %s
        current-context: flotilla-local
        """
            .formatted(url(), namespace);
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.writeString(file, yaml);
    return file;
  }

  @Override
  public void close() {
    client.close();
    server.shutdown();
  }
}
