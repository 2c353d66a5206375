package dev.flotilla.operator.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import dev.flotilla.operator.MutableClock;
import dev.flotilla.operator.leader.Leadership;
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * Demand belongs to the stream it arrived on: a caller that reuses a real gateway's {@code
 * gateway_id} neither overwrites that gateway's demand nor erases it by closing its stream.
 */
class DemandSourcesTest {
  static final ResourceID MODEL = new ResourceID("llama", "default");
  static final Duration WINDOW = Duration.ofSeconds(60);

  final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
  final DemandStore store = new DemandStore();
  final AutoscalerGrpcService service = new AutoscalerGrpcService(store, clock, Leadership.alone());

  static final StreamObserver<ScaleDecision> IGNORE =
      new StreamObserver<>() {
        @Override
        public void onNext(ScaleDecision value) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };

  static DemandReport report(String gatewayId, int inFlight) {
    return DemandReport.newBuilder()
        .setGatewayId(gatewayId)
        .addModels(
            ModelDemand.newBuilder()
                .setNamespace("default")
                .setModel("llama")
                .setInFlight(inFlight))
        .build();
  }

  double latest() {
    return store.snapshot(MODEL, clock.instant(), WINDOW, WINDOW, WINDOW).latestConcurrency();
  }

  @Test
  void aReportUnderAnotherGatewaysIdAddsToItsDemandInsteadOfReplacingIt() {
    StreamObserver<DemandReport> gateway = service.reportDemand(IGNORE);
    gateway.onNext(report("gateway-a", 3));
    StreamObserver<DemandReport> impostor = service.reportDemand(IGNORE);

    impostor.onNext(report("gateway-a", 0));

    assertThat(latest()).isEqualTo(3);
  }

  @Test
  void closingAStreamUnderAnotherGatewaysIdDoesNotEraseItsDemand() {
    StreamObserver<DemandReport> gateway = service.reportDemand(IGNORE);
    gateway.onNext(report("gateway-a", 3));
    StreamObserver<DemandReport> impostor = service.reportDemand(IGNORE);
    impostor.onNext(report("gateway-a", 1));

    impostor.onCompleted();

    assertThat(latest()).isEqualTo(3);
    gateway.onCompleted();
    assertThat(store.snapshot(MODEL, clock.instant(), WINDOW, WINDOW, WINDOW).reporting())
        .as("a gateway's own close still drops its demand at once")
        .isFalse();
  }
}
