package dev.flotilla.operator;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.flotilla.api.control.v1.AutoscalerGrpc;
import dev.flotilla.api.control.v1.DemandReport;
import dev.flotilla.api.control.v1.ModelDemand;
import dev.flotilla.api.control.v1.ScaleDecision;
import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.operator.lora.LoraAdapterReconciler;
import dev.flotilla.operator.md.ModelDeploymentReconciler;
import dev.flotilla.operator.md.WorkerAccessReconciler;
import dev.flotilla.operator.pool.GpuNodePoolReconciler;
import dev.flotilla.operator.pool.GpuNodePoolStatusModelTest;
import dev.flotilla.operator.tenant.TenantReconciler;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.javaoperatorsdk.operator.Operator;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The operator process starts against an (in-memory) Kubernetes API server, reconciles, answers its
 * health checks and exposes Prometheus metrics.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class OperatorServiceIT {
  @Inject KubernetesClient client;

  @Inject Operator operator;

  @Test
  void registersEveryReconciler() {
    assertThat(
            operator.getRegisteredControllers().stream()
                .map(controller -> controller.getConfiguration().getName()))
        .containsExactlyInAnyOrder(
            ModelDeploymentReconciler.NAME,
            WorkerAccessReconciler.NAME,
            LoraAdapterReconciler.NAME,
            TenantReconciler.NAME,
            GpuNodePoolReconciler.NAME);
  }

  @Test
  void answersHttpHealthChecks() {
    given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
  }

  @Test
  void exposesPrometheusMetrics() {
    given()
        .get("/q/metrics")
        .then()
        .statusCode(200)
        .body(containsString("# TYPE jvm_memory_used_bytes gauge"));
  }

  @Test
  void answersGrpcHealthChecks() throws Exception {
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("localhost", 19200).usePlaintext().build();
    try {
      HealthCheckResponse response =
          HealthGrpc.newBlockingStub(channel)
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .check(HealthCheckRequest.getDefaultInstance());
      assertThat(response.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void servesTheAutoscalerDemandStream() throws Exception {
    ManagedChannel channel =
        ManagedChannelBuilder.forAddress("localhost", 19200).usePlaintext().build();
    try {
      BlockingQueue<ScaleDecision> decisions = new LinkedBlockingQueue<>();
      StreamObserver<DemandReport> reports =
          AutoscalerGrpc.newStub(channel)
              .reportDemand(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(ScaleDecision value) {
                      decisions.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                  });
      reports.onNext(
          DemandReport.newBuilder()
              .setGatewayId("gw-it")
              .addModels(
                  ModelDemand.newBuilder()
                      .setNamespace("default")
                      .setModel("unknown")
                      .setInFlight(1))
              .build());
      ScaleDecision decision = decisions.poll(10, TimeUnit.SECONDS);
      assertThat(decision).isNotNull();
      assertThat(decision.getModel()).isEqualTo("unknown");
      assertThat(decision.getDesiredReplicas()).isZero();
      reports.onCompleted();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void exposesReconcileMetrics() {
    client.resource(GpuNodePoolStatusModelTest.pool(1, 1)).createOr(r -> r.update());
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                given()
                    .get("/q/metrics")
                    .then()
                    .statusCode(200)
                    // Java Operator SDK's Micrometer metrics, per controller: count, outcome,
                    // duration.
                    .body(
                        containsString(
                            "reconciliations_started_total{controller_name=\"gpunodepool\""))
                    .body(
                        containsString(
                            "reconciliations_success_total{controller_name=\"gpunodepool\""))
                    .body(
                        containsString(
                            "reconciliations_execution_duration_seconds_count{controller_name=\"gpunodepool\"")));
  }

  @Test
  void reconcilesGpuNodePoolStatus() {
    GpuNodePool pool = GpuNodePoolStatusModelTest.pool(3, 2);
    pool.getMetadata().setGeneration(null);
    client.resource(pool).create();

    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              GpuNodePool current = client.resources(GpuNodePool.class).withName("l4").get();
              assertThat(current.getStatus()).isNotNull();
              assertThat(current.getStatus().getCapacityGpus()).isEqualTo(6);
              assertThat(current.getStatus().getConditions())
                  .anySatisfy(c -> assertThat(c.getStatus()).isEqualTo("True"));
            });
  }
}
