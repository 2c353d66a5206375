package dev.flotilla.operator;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.flotilla.api.crd.GpuNodePool;
import dev.flotilla.operator.pool.GpuNodePoolStatusModelTest;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import jakarta.inject.Inject;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The operator process starts against an (in-memory) Kubernetes API server, reconciles, answers
 * its health checks and exposes Prometheus metrics.
 */
@QuarkusTest
@WithKubernetesTestServer(crud = true)
class OperatorServiceIT {
  @Inject
  KubernetesClient client;

  @Test
  void answersHttpHealthChecks() {
    given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
  }

  @Test
  void exposesPrometheusMetrics() {
    given().get("/q/metrics").then().statusCode(200)
        .body(containsString("# TYPE jvm_memory_used_bytes gauge"));
  }

  @Test
  void reconcilesGpuNodePoolStatus() {
    GpuNodePool pool = GpuNodePoolStatusModelTest.pool(3, 2);
    pool.getMetadata().setGeneration(null);
    client.resource(pool).create();

    Awaitility.await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
      GpuNodePool current = client.resources(GpuNodePool.class).withName("l4").get();
      assertThat(current.getStatus()).isNotNull();
      assertThat(current.getStatus().getCapacityGpus()).isEqualTo(6);
      assertThat(current.getStatus().getConditions()).anySatisfy(c -> assertThat(c.getStatus()).isEqualTo("True"));
    });
  }
}
