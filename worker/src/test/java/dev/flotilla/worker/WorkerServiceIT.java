package dev.flotilla.worker;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
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

/**
 * The packaged worker process on the tiny model, configured through the operator's FLOTILLA_*
 * names: health turns SERVING once the model is loaded, Generate and Stats answer on the gRPC port,
 * and the Prometheus endpoint carries the worker's metrics.
 */
@QuarkusTest
@QuarkusTestResource(value = TinyModelResource.class, restrictToAnnotatedClass = true)
class WorkerServiceIT {
  @ConfigProperty(name = "quarkus.grpc.server.test-port")
  int grpcPort;

  ManagedChannel channel;

  @BeforeEach
  void connect() {
    channel = ManagedChannelBuilder.forAddress("localhost", grpcPort).usePlaintext().build();
    HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                health.check(HealthCheckRequest.newBuilder().build()).getStatus()
                    == ServingStatus.SERVING);
  }

  @AfterEach
  void disconnect() throws InterruptedException {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  @Test
  void healthIsServingOnceTheModelIsLoaded() {
    assertThat(
            HealthGrpc.newBlockingStub(channel)
                .check(HealthCheckRequest.newBuilder().setService(WorkerGrpc.SERVICE_NAME).build())
                .getStatus())
        .isEqualTo(ServingStatus.SERVING);
    given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
  }

  @Test
  void generatesOverGrpcAndReportsStatsAndMetrics() throws Exception {
    Iterator<WorkerGenerateResponse> stream =
        WorkerGrpc.newBlockingStub(channel)
            .withDeadlineAfter(60, TimeUnit.SECONDS)
            .generate(InProcessWorker.greedy("lora-1", InProcessWorker.prompt(6, 1), 8));
    List<Integer> tokens = new ArrayList<>();
    WorkerGenerateResponse last = null;
    while (stream.hasNext()) {
      last = stream.next();
      if (last.hasTokens()) {
        tokens.addAll(last.getTokens().getTokenIdsList());
      }
    }
    assertThat(tokens).hasSize(8);
    assertThat(last.getFinal().getFinishReason()).isEqualTo(FinishReason.LENGTH);

    Context.CancellableContext ctx = Context.current().withCancellation();
    WorkerStats stats =
        ctx.wrap(
                () ->
                    WorkerGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(10, TimeUnit.SECONDS)
                        .stats(StatsRequest.newBuilder().setIntervalMs(50).build())
                        .next())
            .call();
    ctx.cancel(null);
    assertThat(stats.getWorkerId()).isEqualTo("worker-under-test");
    assertThat(stats.getModel()).isEqualTo("test/tiny");
    assertThat(stats.getServing()).isTrue();
    assertThat(stats.getMaxBatchSize()).isEqualTo(16);
    assertThat(stats.getAdapterSlots()).isEqualTo(4);
    assertThat(stats.getResidentAdaptersList()).contains("lora-1");

    given()
        .get("/q/metrics")
        .then()
        .statusCode(200)
        .body(containsString("flotilla_worker_tokens_generated_total"))
        .body(containsString("flotilla_worker_prompt_tokens_computed_total"))
        .body(containsString("flotilla_worker_time_to_first_token_seconds_bucket"))
        .body(containsString("flotilla_worker_time_between_tokens_seconds_bucket"))
        .body(containsString("flotilla_worker_queue_seconds_bucket"))
        .body(containsString("flotilla_worker_batch_size_bucket"))
        .body(containsString("flotilla_worker_kv_blocks_used"))
        .body(containsString("flotilla_worker_adapter_loads_total{result=\"ok\",source=\"disk\"}"))
        .body(containsString("flotilla_worker_adapter_loads_total{result=\"ok\",source=\"host\"}"))
        .body(containsString("flotilla_worker_adapter_evictions_total{tier=\"pool\"}"))
        .body(containsString("flotilla_worker_adapter_pool_bytes"))
        .body(containsString("flotilla_worker_adapter_host_bytes"))
        .body(containsString("flotilla_worker_adapters_host"))
        .body(containsString("flotilla_worker_adapter_evictions_total{tier=\"host\"}"))
        .body(containsString("flotilla_worker_prefix_cache_lookup_tokens_total"))
        .body(containsString("flotilla_worker_prefix_cache_hit_tokens_total"))
        .body(containsString("flotilla_worker_prefix_cache_blocks"))
        .body(containsString("flotilla_worker_prefix_cache_evictions_total"))
        .body(containsString("flotilla_worker_preemptions_total"));
  }
}
