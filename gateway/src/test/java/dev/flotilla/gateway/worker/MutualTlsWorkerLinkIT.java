package dev.flotilla.gateway.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.route.WorkerRegistry;
import dev.flotilla.gateway.service.FakeWorker;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.MutualTls;
import dev.flotilla.mtls.PeerPolicy;
import dev.flotilla.mtls.ReloadingCredentials;
import dev.flotilla.mtls.TlsFiles;
import dev.flotilla.mtls.ca.CertificateAuthority;
import dev.flotilla.mtls.ca.CertificatePolicy;
import dev.flotilla.mtls.ca.Usage;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's worker client with mutual TLS, as {@code GatewayBeans} builds it: calls reach a
 * worker that proves the model the registry placed at its address, and nothing reaches a process at
 * that address that proves another model or holds no certificate from the CA.
 */
class MutualTlsWorkerLinkIT {
  static final String MODEL = "default/tiny-llama";

  @TempDir Path tmp;
  CertificateAuthority ca;
  ReloadingCredentials gateway;
  final WorkerRegistry registry = new WorkerRegistry();

  @BeforeEach
  void issue() throws Exception {
    Instant now = Instant.now();
    ca = CertificateAuthority.create(CertificatePolicy.DEFAULT, now);
    TlsFiles files = new TlsFiles(tmp.resolve("gateway"));
    ca.issue(Identities.GATEWAY, Usage.CLIENT, now).writeTo(files);
    gateway = new ReloadingCredentials(files, Duration.ZERO);
  }

  FakeWorker worker(String identity, CertificateAuthority issuer) throws Exception {
    TlsFiles files = new TlsFiles(tmp.resolve("worker-" + Math.abs(identity.hashCode())));
    issuer.issue(identity, Usage.SERVER, Instant.now()).writeTo(files);
    FakeWorker worker =
        new FakeWorker(
            "w",
            MutualTls.serverCredentials(
                new ReloadingCredentials(files, Duration.ZERO),
                PeerPolicy.exactly(Identities.GATEWAY)));
    registry.upsert(new WorkerRegistry.Endpoint("default/w", MODEL, worker.address()));
    return worker;
  }

  GrpcWorkerClient client() {
    return new GrpcWorkerClient(
        WorkerChannels.mutualTls(
            gateway,
            address ->
                registry
                    .modelAt(address)
                    .map(m -> PeerPolicy.exactly(Identities.workerOf(m)))
                    .orElseGet(() -> new PeerPolicy("registered", id -> false))));
  }

  static WorkerGenerateRequest request() {
    return WorkerGenerateRequest.newBuilder()
        .setRequestId("r")
        .setPrompt("hi")
        .setSampling(SamplingParams.newBuilder().setMaxTokens(2))
        .build();
  }

  static String generate(GrpcWorkerClient client, FakeWorker worker) throws Exception {
    GrpcWorkerClientIT.Heard heard = new GrpcWorkerClientIT.Heard();
    client.generate(worker.address(), request(), heard, null, 16);
    return heard.ending();
  }

  @Test
  void aWorkerThatProvesItsModelIsCalled() throws Exception {
    try (FakeWorker worker = worker(Identities.workerOf(MODEL), ca);
        GrpcWorkerClient client = client()) {
      assertThat(generate(client, worker)).isEqualTo("final");
      assertThat(
              client
                  .loadAdapter(worker.address(), LoadAdapterRequest.getDefaultInstance())
                  .get(5, TimeUnit.SECONDS))
          .isNotNull();
      CompletableFuture<Boolean> stats = new CompletableFuture<>();
      try (AutoCloseable watch =
          client.watchStats(worker.address(), 50, s -> stats.complete(true), s -> {})) {
        worker.publish();
        assertThat(stats.get(5, TimeUnit.SECONDS)).isTrue();
      }
    }
  }

  @Test
  void aWorkerOfAnotherModelAtTheAddressGetsNoRequest() throws Exception {
    try (FakeWorker impostor = worker(Identities.worker("default", "other"), ca);
        GrpcWorkerClient client = client()) {
      assertThat(generate(client, impostor)).isEqualTo(Status.Code.UNAVAILABLE.name());
      assertThatThrownBy(
              () ->
                  client
                      .loadAdapter(impostor.address(), LoadAdapterRequest.getDefaultInstance())
                      .get(5, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class);
      assertThat(impostor.generated).isEmpty();
    }
  }

  @Test
  void aProcessWithACertificateFromAnotherCaGetsNoRequest() throws Exception {
    CertificateAuthority other =
        CertificateAuthority.create(CertificatePolicy.DEFAULT, Instant.now());
    try (FakeWorker impostor = worker(Identities.workerOf(MODEL), other);
        GrpcWorkerClient client = client()) {
      assertThat(generate(client, impostor)).isEqualTo(Status.Code.UNAVAILABLE.name());
      assertThat(impostor.generated).isEmpty();
    }
  }

  @Test
  void anAddressTheRegistryDoesNotKnowIsNotCalled() throws Exception {
    try (FakeWorker worker = worker(Identities.workerOf(MODEL), ca);
        GrpcWorkerClient client = client()) {
      registry.remove("default/w");
      assertThat(generate(client, worker)).isEqualTo(Status.Code.UNAVAILABLE.name());
      await().during(Duration.ofMillis(200)).until(() -> worker.generated.isEmpty());
    }
  }
}
