package dev.flotilla.worker;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import dev.flotilla.mtls.TlsFiles;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.ThrowingConsumer;

/**
 * The packaged worker with its gRPC port behind mutual TLS: the gateway's certificate gets
 * Generate, LoadAdapter and Stats; a caller without a certificate, with one from another CA, or
 * with a valid certificate that is not the gateway's gets none of them. Each refusal test first
 * shows the gateway served on the same port, so that it cannot pass against a server that refuses
 * everyone (or one that speaks plaintext).
 */
@QuarkusTest
@QuarkusTestResource(value = MutualTlsResource.class, restrictToAnnotatedClass = true)
class WorkerMutualTlsIT {
  @ConfigProperty(name = "quarkus.grpc.server.test-port")
  int grpcPort;

  final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeEach
  void awaitModel() {
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> given().get("/q/health/ready").then().statusCode(200));
  }

  @AfterEach
  void close() {
    channels.forEach(ManagedChannel::shutdownNow);
  }

  ManagedChannel channel(ChannelCredentials credentials) {
    ManagedChannel c = Grpc.newChannelBuilderForAddress("localhost", grpcPort, credentials).build();
    channels.add(c);
    return c;
  }

  /** What the gateway uses: its certificate, and the worker must prove it serves test/tiny. */
  ManagedChannel as(TlsFiles client) {
    return channel(
        MutualTls.channelCredentials(
            new ReloadingCredentials(client, Duration.ZERO),
            PeerPolicy.exactly(Identities.workerOf(MutualTlsResource.MODEL))));
  }

  static final List<ThrowingConsumer<ManagedChannel>> EVERY_METHOD =
      List.of(
          WorkerMutualTlsIT::generate, WorkerMutualTlsIT::loadAdapter, WorkerMutualTlsIT::stats);

  static void generate(ManagedChannel channel) {
    Iterator<WorkerGenerateResponse> stream =
        WorkerGrpc.newBlockingStub(channel)
            .withDeadlineAfter(30, TimeUnit.SECONDS)
            .generate(InProcessWorker.greedy("lora-1", InProcessWorker.prompt(6, 1), 4));
    WorkerGenerateResponse last = null;
    while (stream.hasNext()) {
      last = stream.next();
    }
    assertThat(last.hasFinal()).isTrue();
  }

  static void loadAdapter(ManagedChannel channel) {
    assertThat(
            WorkerGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .loadAdapter(
                    LoadAdapterRequest.newBuilder()
                        .setName("lora-2")
                        .setSource("file://" + TestModels.ADAPTERS.get("lora-2"))
                        .build())
                .getRank())
        .isPositive();
  }

  static void stats(ManagedChannel channel) {
    assertThat(
            WorkerGrpc.newBlockingStub(channel)
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .stats(StatsRequest.newBuilder().setIntervalMs(50).build())
                .next()
                .getModel())
        .isEqualTo(MutualTlsResource.MODEL);
  }

  void assertServed(ManagedChannel channel) throws Throwable {
    for (ThrowingConsumer<ManagedChannel> method : EVERY_METHOD) {
      method.accept(channel);
    }
  }

  static void assertRefusedEveryMethod(ManagedChannel channel) {
    for (ThrowingConsumer<ManagedChannel> method : EVERY_METHOD) {
      assertThatThrownBy(() -> method.accept(channel))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    }
  }

  @Test
  void theGatewayIsServedEveryMethod() throws Throwable {
    assertServed(as(MutualTlsResource.GATEWAY));
  }

  @Test
  void aCallerWithoutACertificateIsRefusedEveryMethod() throws Throwable {
    assertServed(as(MutualTlsResource.GATEWAY));
    assertRefusedEveryMethod(channel(InsecureChannelCredentials.create()));
  }

  @Test
  void aGatewayCertificateFromAnotherCaIsRefusedEveryMethod() throws Throwable {
    assertServed(as(MutualTlsResource.GATEWAY));
    assertRefusedEveryMethod(as(MutualTlsResource.OTHER_CA_GATEWAY));
  }

  @Test
  void aValidCertificateThatIsNotTheGatewaysIsRefusedEveryMethod() throws Throwable {
    assertServed(as(MutualTlsResource.GATEWAY));
    // A worker's own certificate, taken from its Secret volume.
    assertRefusedEveryMethod(as(MutualTlsResource.WORKER));
    // A certificate for client use that names a worker.
    assertRefusedEveryMethod(as(MutualTlsResource.OTHER_WORKER_AS_CLIENT));
  }
}
