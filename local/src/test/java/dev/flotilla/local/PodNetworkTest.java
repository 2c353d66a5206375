package dev.flotilla.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class PodNetworkTest {
  @Test
  void skipsAnAddressWhosePortAnotherProcessHolds() throws IOException {
    PodNetwork network = PodNetwork.detect(230);
    assumeThat(network.mode())
        .as("this machine binds per-pod loopback addresses")
        .isEqualTo(PodNetwork.Mode.LOOPBACK_ADDRESS_PER_POD);
    int port = PodNetwork.freePort();
    try (ServerSocket taken = new ServerSocket()) {
      taken.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.230"), port));

      PodNetwork.Assignment first = network.assign(pod(port));
      PodNetwork.Assignment second = network.assign(pod(port));

      assertThat(first.ip()).isEqualTo("127.0.0.231");
      assertThat(first.ports()).containsEntry("grpc", port);
      assertThat(second.ip()).isEqualTo("127.0.0.232");
      network.release(first);
      assertThat(network.assign(pod(port)).ip())
          .as("a released address is given out again")
          .isEqualTo("127.0.0.231");
    }
  }

  private static Pod pod(int port) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("p")
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("c")
        .addNewPort()
        .withName("grpc")
        .withContainerPort(port)
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }
}
