import dev.flotilla.local.ApiServer;
import dev.flotilla.testkit.TinyModelGenerator;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * What images/check.sh runs beside the images: the local mode's in-memory Kubernetes API server
 * (with the CRDs and the operator's namespace) for the operator and the gateway, and the testkit's
 * tiny model for the worker. It writes {@code api-url}, {@code ports} (free ports for the
 * containers, one per line) and {@code models/tiny-llama/}, then {@code ready}, under STATE_DIR,
 * and serves until it is killed.
 *
 * <p>Usage: {@code java -cp <local/ class path> images/CheckFixture.java REPO STATE_DIR PORTS}
 */
public final class CheckFixture {
  public static void main(String[] args) {
    try {
      serve(args);
    } catch (Exception e) {
      // The API server's threads would keep the JVM alive.
      e.printStackTrace();
      System.exit(1);
    }
  }

  private static void serve(String[] args) throws Exception {
    Path repo = Path.of(args[0]);
    Path state = Path.of(args[1]);
    int portCount = Integer.parseInt(args[2]);

    TinyModelGenerator.tiny().seed(7).generate(state.resolve("models").resolve("tiny-llama"));
    ApiServer api = ApiServer.start(0, (namespace, pod) -> state.resolve("no-pod-logs"));
    api.installCrds(repo.resolve("crds"));
    api.createNamespaces("default", "flotilla-system");

    Files.writeString(state.resolve("api-url"), api.url() + "\n");
    Files.write(state.resolve("ports"), freePorts(portCount));
    Files.writeString(state.resolve("ready"), "");
    Thread.currentThread().join();
  }

  /**
   * Ports free now, below the kernel's range for outgoing connections: a port from that range (as
   * {@code new ServerSocket(0)} gives) may be taken by a client connection before the container
   * binds it.
   */
  private static List<String> freePorts(int count) throws Exception {
    // readAllLines, not readString: the file reports size 0, and readString reads a few bytes.
    String[] range =
        Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).split("\\s+");
    int below = Math.max(Math.min(Integer.parseInt(range[0]), 32768), 11000);
    Random random = new Random();
    List<String> ports = new ArrayList<>();
    while (ports.size() < count) {
      int port = 10000 + random.nextInt(below - 10000);
      try (ServerSocket socket = new ServerSocket(port)) {
        if (!ports.contains(String.valueOf(port))) {
          ports.add(String.valueOf(port));
        }
      } catch (IOException taken) {
        // try another
      }
    }
    return ports;
  }

  private CheckFixture() {}
}
