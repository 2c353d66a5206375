package dev.flotilla.gateway;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.InferenceGrpc;
import dev.flotilla.api.v1.ListModelsRequest;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.gateway.status.GatewayStatus;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gateway process starts against an in-memory API server, answers its HTTP and gRPC health
 * checks, exposes Prometheus metrics on its management port (and not on the client port), and
 * serves the Inference API from informer-fed state.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class GatewayServiceIT {
  /** quarkus.management.test-port in application.properties. */
  static final int MANAGEMENT_TEST_PORT = 19090;

  @Inject KubernetesClient kubernetes;
  private ManagedChannel channel;

  @BeforeEach
  void connect() {
    channel = ManagedChannelBuilder.forAddress("localhost", 19000).usePlaintext().build();
  }

  @AfterEach
  void disconnect() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private InferenceGrpc.InferenceBlockingStub inference(String key) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + key);
    return InferenceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
        .withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @Test
  void answersHttpHealthChecks() {
    given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
  }

  @Test
  void answersTheGrpcHealthCheck() {
    HealthCheckResponse r =
        HealthGrpc.newBlockingStub(channel)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance());
    assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  @Test
  void exposesPrometheusMetricsOnTheManagementPort() {
    given()
        .port(MANAGEMENT_TEST_PORT)
        .get("/q/metrics")
        .then()
        .statusCode(200)
        .body(containsString("# TYPE jvm_memory_used_bytes gauge"))
        .body(containsString("flotilla_gateway_usage_spool_depth"));
  }

  @Test
  void theClientPortServesNoMetrics() {
    given().get("/q/metrics").then().statusCode(404);
    given().get("/metrics").then().statusCode(404);
  }

  @Test
  void refusesUnknownKeys() {
    try {
      inference("flk_unknown")
          .generate(GenerateRequest.newBuilder().setModel("m").setPrompt("hi").build())
          .forEachRemaining(r -> {});
      throw new AssertionError("expected UNAUTHENTICATED");
    } catch (StatusRuntimeException e) {
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(e.getStatus().getDescription()).isEqualTo(GatewayStatus.UNAUTHENTICATED_MESSAGE);
    }
  }

  @Test
  void tenantsAndModelsCreatedInKubernetesAreServed() {
    kubernetes
        .resource(Fixtures.keySecret("default", "it-keys", "k", Fixtures.sha256Entry("flk_it_key")))
        .create();
    kubernetes
        .resource(Fixtures.tenant("it-tenant", "it-keys", List.of("*"), 1, Priority.Normal, null))
        .create();
    kubernetes.resource(Fixtures.model("default", "it-model", "1m")).create();
    await()
        .atMost(Duration.ofSeconds(20))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              ListModelsResponse models =
                  inference("flk_it_key").listModels(ListModelsRequest.getDefaultInstance());
              assertThat(models.getModelsList())
                  .extracting(m -> m.getName())
                  .contains("default/it-model");
            });
  }
}
