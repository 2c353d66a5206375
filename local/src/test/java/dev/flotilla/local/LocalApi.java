package dev.flotilla.local;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Test fixture: a fresh in-memory API server with the CRDs installed, a fresh namespace named after
 * the test class, a kubeconfig and a log directory under {@code target/}.
 */
final class LocalApi implements FailureDump.Fixture, AutoCloseable {
  final ApiServer server;
  final String namespace;
  final Path dir;
  final Path kubeconfig;

  private LocalApi(ApiServer server, String namespace, Path dir, Path kubeconfig) {
    this.server = server;
    this.namespace = namespace;
    this.dir = dir;
    this.kubeconfig = kubeconfig;
  }

  static LocalApi start(Class<?> testClass) throws IOException {
    Path dir = Path.of("target", "local-tests", testClass.getSimpleName()).toAbsolutePath();
    deleteRecursively(dir);
    Files.createDirectories(dir.resolve("logs"));
    ApiServer server =
        ApiServer.start(0, (ns, pod) -> NodeAgent.logFile(dir.resolve("logs"), ns, pod));
    server.installCrds(repoRoot().resolve("crds"));
    String namespace =
        testClass.getSimpleName().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "")
            + "-"
            + UUID.randomUUID().toString().substring(0, 6);
    server.createNamespaces("default", namespace);
    Path kubeconfig = server.writeKubeconfig(dir.resolve("kubeconfig"), namespace);
    return new LocalApi(server, namespace, dir, kubeconfig);
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("flotilla.repo.root", "..")).toAbsolutePath().normalize();
  }

  @Override
  public KubernetesClient client() {
    return server.client();
  }

  @Override
  public Path logDir() {
    return dir.resolve("logs");
  }

  @Override
  public void close() {
    server.close();
  }

  static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
