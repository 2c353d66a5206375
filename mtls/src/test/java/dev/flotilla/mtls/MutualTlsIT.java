package dev.flotilla.mtls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.mtls.ca.Usage;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both ends of an internal link over a real TLS socket, as the worker (server) and the gateway
 * (client) set them up: who gets through, and that renewal and CA rotation, read from the files,
 * keep calls working with no restart.
 */
class MutualTlsIT {
  static final String MODEL = Identities.worker("default", "tiny-llama");

  /** Short lives; the CA starts 21 minutes in the past so that it is due to rotate now. */
  static final CertificatePolicy POLICY =
      new CertificatePolicy(Duration.ofMinutes(30), Duration.ofMinutes(3), Duration.ZERO);

  @TempDir Path tmp;
  CertificateAuthority ca;
  TlsFiles serverFiles;
  TlsFiles clientFiles;
  Server server;
  final List<ManagedChannel> channels = new ArrayList<>();

  /** Answers LoadAdapter with the caller's identity, as the server saw it. */
  static final class Echo extends WorkerGrpc.WorkerImplBase {
    @Override
    public void loadAdapter(LoadAdapterRequest request, StreamObserver<LoadAdapterResponse> out) {
      out.onNext(
          LoadAdapterResponse.newBuilder()
              .addTargetModules(PeerIdentity.current().orElse("anonymous"))
              .build());
      out.onCompleted();
    }
  }

  @BeforeEach
  void start() throws Exception {
    Instant now = Instant.now();
    ca = CertificateAuthority.create(POLICY, now.minus(Duration.ofMinutes(21)));
    serverFiles = new TlsFiles(tmp.resolve("server"));
    clientFiles = new TlsFiles(tmp.resolve("client"));
    ca.issue(MODEL, Usage.SERVER, now).writeTo(serverFiles);
    ca.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(clientFiles);
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .sslContext(
                MutualTls.serverContext(
                    new ReloadingCredentials(serverFiles, Duration.ZERO),
                    PeerPolicy.exactly(Identities.GATEWAY)))
            .addService(ServerInterceptors.intercept(new Echo(), PeerIdentity.interceptor()))
            .build()
            .start();
  }

  @AfterEach
  void stop() throws InterruptedException {
    channels.forEach(ManagedChannel::shutdownNow);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  ManagedChannel channel(ChannelCredentials credentials) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress("127.0.0.1", server.getPort(), credentials).build();
    channels.add(channel);
    return channel;
  }

  ManagedChannel gatewayChannel(TlsFiles files, String expectedServer) {
    return channel(
        MutualTls.channelCredentials(
            new ReloadingCredentials(files, Duration.ZERO), PeerPolicy.exactly(expectedServer)));
  }

  static String call(ManagedChannel channel) {
    return WorkerGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .loadAdapter(LoadAdapterRequest.getDefaultInstance())
        .getTargetModules(0);
  }

  static void assertRefused(ManagedChannel channel) {
    assertThatThrownBy(() -> call(channel))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
  }

  @Test
  void theGatewayReachesAWorkerThatProvesTheModelItServes() {
    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);
  }

  @Test
  void aClientWithoutACertificateIsRefused() {
    assertRefused(channel(InsecureChannelCredentials.create()));
    assertRefused(
        channel(
            TlsChannelCredentials.newBuilder()
                .trustManager(
                    new IdentityTrustManager(
                        new ReloadingCredentials(clientFiles, Duration.ZERO),
                        PeerPolicy.exactly(MODEL)))
                .build()));
    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);
  }

  @Test
  void aGatewayCertificateFromAnotherCaIsRefused() throws Exception {
    TlsFiles forged = new TlsFiles(tmp.resolve("forged"));
    CertificateAuthority.create(POLICY, Instant.now())
        .issue(Identities.GATEWAY, Usage.CLIENT, Instant.now())
        .writeTo(forged);
    // Trusting the real CA, so that only the client side is wrong.
    java.nio.file.Files.copy(
        clientFiles.trustBundle(),
        forged.trustBundle(),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);

    assertRefused(gatewayChannel(forged, MODEL));
  }

  @Test
  void aValidCertificateWithAnotherIdentityIsRefused() throws Exception {
    TlsFiles worker = new TlsFiles(tmp.resolve("other-worker"));
    // A client certificate, so that only its identity is wrong.
    ca.issue(Identities.worker("default", "other"), Usage.CLIENT, Instant.now()).writeTo(worker);

    assertRefused(gatewayChannel(worker, MODEL));
  }

  @Test
  void theGatewayRefusesAServerThatProvesAnotherModel() {
    assertRefused(gatewayChannel(clientFiles, Identities.worker("default", "other")));
    assertRefused(gatewayChannel(clientFiles, Identities.worker("team-b", "tiny-llama")));
  }

  @Test
  void aRenewedCertificateIsPresentedFromTheNextConnectionWithoutARestart() throws Exception {
    ManagedChannel before = gatewayChannel(clientFiles, MODEL);
    assertThat(call(before)).isEqualTo(Identities.GATEWAY);

    ca.issue(Identities.GATEWAY, Usage.CLIENT, Instant.now()).writeTo(clientFiles);
    ca.issue(MODEL, Usage.SERVER, Instant.now()).writeTo(serverFiles);

    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);
    assertThat(call(before))
        .as("an open connection is not disturbed")
        .isEqualTo(Identities.GATEWAY);
  }

  @Test
  void callsKeepWorkingThroughEveryStepOfACaRotation() throws Exception {
    ManagedChannel openAllAlong = gatewayChannel(clientFiles, MODEL);
    assertThat(call(openAllAlong)).isEqualTo(Identities.GATEWAY);
    Instant now = Instant.now();

    // Step 1: the successor joins both bundles; the old CA still signs.
    CertificateAuthority successorTrusted = ca.rotate(now);
    assertThat(successorTrusted.nextCertificate()).isPresent();
    successorTrusted.issue(MODEL, Usage.SERVER, now).writeTo(serverFiles);
    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);
    successorTrusted.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(clientFiles);
    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);

    // Step 2: the successor signs. The gateway is renewed first: its new certificate meets a
    // worker still on the old CA, and the reverse is never needed.
    CertificateAuthority rotated = successorTrusted.rotate(now);
    assertThat(rotated.retiredCertificates()).containsExactly(ca.signingCertificate());
    rotated.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(clientFiles);
    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);
    rotated.issue(MODEL, Usage.SERVER, now).writeTo(serverFiles);
    assertThat(call(gatewayChannel(clientFiles, MODEL))).isEqualTo(Identities.GATEWAY);

    assertThat(call(openAllAlong)).isEqualTo(Identities.GATEWAY);
  }
}
