package dev.flotilla.gateway.worker;

import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.util.function.Function;

/**
 * How the gateway opens its channel to a worker address.
 *
 * <p>grpc-java's own retry is off: the gateway already retries a call that fails before its first
 * token, on another worker, and a second, hidden layer under it would wrap every call in a
 * RetriableStream that hands each token message through a SynchronizationContext (a queue offer, a
 * poll and a Runnable per message).
 */
@FunctionalInterface
public interface WorkerChannels {
  ManagedChannel open(String address);

  /** Plaintext, for tests and fake workers. */
  static WorkerChannels plaintext() {
    return address -> open(address, InsecureChannelCredentials.create());
  }

  /**
   * Mutual TLS: the gateway presents its certificate, and the worker must prove the identity {@code
   * expected} names for its address. Asked at each handshake, so the answer follows the registry: a
   * pod address reused by another model's worker is expected to be that model's.
   */
  static WorkerChannels mutualTls(
      ReloadingCredentials credentials, Function<String, PeerPolicy> expected) {
    return address ->
        open(address, MutualTls.channelCredentials(credentials, () -> expected.apply(address)));
  }

  private static ManagedChannel open(String address, ChannelCredentials credentials) {
    return Grpc.newChannelBuilder(address, credentials).disableRetry().build();
  }
}
