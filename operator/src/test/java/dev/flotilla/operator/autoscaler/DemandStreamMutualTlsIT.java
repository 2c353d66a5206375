package dev.flotilla.operator.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.control.v1.AutoscalerGrpc;
import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
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
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The operator's demand stream (gRPC 9200) behind mutual TLS: only a caller with the gateway's
 * certificate reports demand, and a caller with it still cannot erase another gateway's demand by
 * reusing its id. Each refusal test first shows a gateway served, so that it cannot pass against a
 * server that refuses everyone (or one that speaks plaintext).
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
@QuarkusTestResource(value = MutualTlsResource.class, restrictToAnnotatedClass = true)
class DemandStreamMutualTlsIT {
  static final Duration WINDOW = Duration.ofSeconds(60);

  @Inject DemandStore store;
  @Inject Clock clock;
  final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void close() {
    channels.forEach(ManagedChannel::shutdownNow);
  }

  ManagedChannel channel(ChannelCredentials credentials) {
    ManagedChannel c = Grpc.newChannelBuilderForAddress("localhost", 19200, credentials).build();
    channels.add(c);
    return c;
  }

  ManagedChannel as(TlsFiles client) {
    return channel(
        MutualTls.channelCredentials(
            new ReloadingCredentials(client, Duration.ZERO),
            PeerPolicy.exactly(Identities.OPERATOR)));
  }

  /** A demand stream: reports go out, decisions and the end come back. */
  static final class Stream {
    final BlockingQueue<ScaleDecision> decisions = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> end = new CompletableFuture<>();
    final StreamObserver<DemandReport> reports;
    final String model;

    Stream(ManagedChannel channel, String model) {
      this.model = model;
      reports =
          AutoscalerGrpc.newStub(channel)
              .reportDemand(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(ScaleDecision value) {
                      decisions.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                      end.complete(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {
                      end.complete(Status.OK);
                    }
                  });
    }

    Stream report(String gatewayId, int inFlight) {
      reports.onNext(
          DemandReport.newBuilder()
              .setGatewayId(gatewayId)
              .addModels(
                  ModelDemand.newBuilder()
                      .setNamespace("default")
                      .setModel(model)
                      .setInFlight(inFlight))
              .build());
      return this;
    }

    ScaleDecision decision() throws InterruptedException {
      ScaleDecision d = decisions.poll(10, TimeUnit.SECONDS);
      assertThat(d).as("a decision for the report").isNotNull();
      return d;
    }
  }

  static void assertRefused(ManagedChannel channel, String model) throws Exception {
    Stream stream = new Stream(channel, model).report("fake", 100);
    assertThat(stream.end.get(10, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(stream.decisions).isEmpty();
  }

  double latestDemand(String model) {
    return store
        .snapshot(new ResourceID(model, "default"), clock.instant(), WINDOW, WINDOW, WINDOW)
        .latestConcurrency();
  }

  @Test
  void theGatewayReportsDemandAndHearsDecisions() throws Exception {
    Stream gateway = new Stream(as(MutualTlsResource.GATEWAY), "served").report("gateway-a", 2);
    assertThat(gateway.decision().getModel()).isEqualTo("served");
    gateway.reports.onCompleted();
  }

  @Test
  void aFakeGatewayWithoutTheGatewayCertificateCannotReportDemand() throws Exception {
    Stream gateway = new Stream(as(MutualTlsResource.GATEWAY), "faked").report("gateway-a", 1);
    assertThat(gateway.decision().getModel()).isEqualTo("faked");

    assertRefused(channel(InsecureChannelCredentials.create()), "faked");
    assertRefused(as(MutualTlsResource.OTHER_CA_GATEWAY), "faked");
    assertRefused(as(MutualTlsResource.WORKER), "faked");

    assertThat(latestDemand("faked")).as("only the real gateway's report counts").isEqualTo(1);
    gateway.reports.onCompleted();
  }

  @Test
  void aGatewayCannotEraseAnotherGatewaysDemandByReusingItsId() throws Exception {
    Stream real = new Stream(as(MutualTlsResource.GATEWAY), "erased").report("gateway-a", 3);
    real.decision();
    Stream impostor = new Stream(as(MutualTlsResource.GATEWAY), "erased").report("gateway-a", 0);
    impostor.decision();
    assertThat(latestDemand("erased")).isEqualTo(3);

    impostor.reports.onCompleted();
    impostor.end.get(10, TimeUnit.SECONDS);

    await()
        .during(Duration.ofMillis(500))
        .atMost(Duration.ofSeconds(5))
        .until(() -> latestDemand("erased") == 3);
    real.reports.onCompleted();
  }
}
