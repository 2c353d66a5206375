package dev.flotilla.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

/** The gateway process starts, answers its HTTP health checks and exposes Prometheus metrics. */
@QuarkusTest
class GatewayServiceIT {
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
}
