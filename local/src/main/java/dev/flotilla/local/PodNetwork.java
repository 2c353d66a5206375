package dev.flotilla.local;

import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gives each local pod an address. By default every pod gets its own loopback address (127.0.0.2,
 * 127.0.0.3, …: on Linux the whole 127/8 is loopback) and keeps the container ports its spec
 * declares, so a client that dials {@code podIP:containerPort}, as the gateway does, reaches it
 * unchanged. Where only 127.0.0.1 exists (macOS), pods share it and get free ports instead; the
 * ports are then published as pod annotations {@code flotilla.dev/port-<name>} and callers must
 * read them.
 */
public final class PodNetwork {
  public static final String PORT_ANNOTATION_PREFIX = "flotilla.dev/port-";

  public enum Mode {
    LOOPBACK_ADDRESS_PER_POD,
    SHARED_LOOPBACK
  }

  /** Where one pod listens: its IP and a port per named container port. */
  public record Assignment(String ip, Map<String, Integer> ports) {}

  private final Mode mode;
  private final int firstHost;
  private final BitSet used = new BitSet(256);

  /**
   * @param firstHost last byte of the first per-pod address (2 gives 127.0.0.2)
   */
  public PodNetwork(Mode mode, int firstHost) {
    this.mode = mode;
    this.firstHost = firstHost;
  }

  /**
   * Per-pod loopback addresses from 127.0.0.{@code firstHost} when this machine can bind them,
   * otherwise a shared 127.0.0.1.
   */
  public static PodNetwork detect(int firstHost) {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0." + firstHost))) {
      return new PodNetwork(Mode.LOOPBACK_ADDRESS_PER_POD, firstHost);
    } catch (IOException e) {
      return new PodNetwork(Mode.SHARED_LOOPBACK, firstHost);
    }
  }

  public Mode mode() {
    return mode;
  }

  public synchronized Assignment assign(Pod pod) throws IOException {
    Map<String, Integer> ports = new LinkedHashMap<>();
    if (mode == Mode.LOOPBACK_ADDRESS_PER_POD) {
      List<ContainerPort> wanted = pod.getSpec().getContainers().get(0).getPorts();
      // Another local system on this machine (a test run beside a running ./flotilla local) may
      // hold an address already: skip every address where a container port cannot be bound.
      for (int host = used.nextClearBit(firstHost);
          host <= 254;
          host = used.nextClearBit(host + 1)) {
        if (bindable("127.0.0." + host, wanted)) {
          used.set(host);
          for (ContainerPort p : wanted) {
            ports.put(
                p.getName() == null ? String.valueOf(p.getContainerPort()) : p.getName(),
                p.getContainerPort());
          }
          return new Assignment("127.0.0." + host, ports);
        }
      }
      throw new IOException("no free loopback address for another pod");
    }
    for (ContainerPort p : pod.getSpec().getContainers().get(0).getPorts()) {
      ports.put(
          p.getName() == null ? String.valueOf(p.getContainerPort()) : p.getName(), freePort());
    }
    return new Assignment("127.0.0.1", ports);
  }

  public synchronized void release(Assignment assignment) {
    if (mode == Mode.LOOPBACK_ADDRESS_PER_POD) {
      used.clear(Integer.parseInt(assignment.ip().substring(assignment.ip().lastIndexOf('.') + 1)));
    }
  }

  private static boolean bindable(String ip, List<ContainerPort> ports) {
    for (ContainerPort p : ports) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getByName(ip), p.getContainerPort()), 1);
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
