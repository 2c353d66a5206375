package dev.flotilla.gateway.bench;

import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.workerlink.GenerateStreamServer;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A worker that streams {@code tokens} tokens per request, one every {@code intervalMicros} (the
 * first one interval after the request arrives), with room for any number of requests: the same
 * fixed service time whether a request comes straight from a client or through a gateway.
 */
final class FixedRateWorker extends WorkerGrpc.WorkerImplBase implements AutoCloseable {
  private final int tokens;
  private final long intervalMicros;
  private final ScheduledExecutorService clock =
      Executors.newScheduledThreadPool(
          1,
          r -> {
            Thread t = new Thread(r, "fixed-rate-worker");
            t.setDaemon(true);
            return t;
          });
  private final Server server;

  FixedRateWorker(int tokens, long intervalMicros) throws IOException {
    this.tokens = tokens;
    this.intervalMicros = intervalMicros;
    this.server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(this)
            .build()
            .start();
  }

  String address() {
    return "127.0.0.1:" + server.getPort();
  }

  @Override
  public void stats(StatsRequest request, StreamObserver<WorkerStats> observer) {
    observer.onNext(
        WorkerStats.newBuilder()
            .setWorkerId("bench-worker")
            .setServing(true)
            .setMaxBatchSize(100_000)
            .setAdapterSlots(4)
            .setFreeKvBlocks(1_000_000)
            .setTimestampMs(System.currentTimeMillis())
            .build());
  }

  /** Each call's tokens come on a timer of their own, so there is nothing to batch. */
  @Override
  public StreamObserver<GenerateStreamRequest> generateStream(
      StreamObserver<GenerateStreamResponse> out) {
    return GenerateStreamServer.serve(out, this::generate, null);
  }

  @Override
  public void generate(
      WorkerGenerateRequest request, StreamObserver<WorkerGenerateResponse> observer) {
    ServerCallStreamObserver<WorkerGenerateResponse> call =
        (ServerCallStreamObserver<WorkerGenerateResponse>) observer;
    emit(call, 0);
  }

  private void emit(ServerCallStreamObserver<WorkerGenerateResponse> call, int i) {
    clock.schedule(
        () -> {
          if (call.isCancelled()) {
            return;
          }
          call.onNext(
              WorkerGenerateResponse.newBuilder()
                  .setTokens(TokenChunk.newBuilder().setText(" tok").addTokenIds(1000 + i))
                  .build());
          if (i + 1 < tokens) {
            emit(call, i + 1);
          } else {
            call.onNext(
                WorkerGenerateResponse.newBuilder()
                    .setFinal(
                        WorkerFinal.newBuilder()
                            .setFinishReason(FinishReason.LENGTH)
                            .setUsage(
                                Usage.newBuilder()
                                    .setPromptTokens(4)
                                    .setCompletionTokens(tokens)
                                    .setTotalTokens(4 + tokens)))
                    .build());
            call.onCompleted();
          }
        },
        intervalMicros,
        TimeUnit.MICROSECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    clock.shutdownNow();
  }
}
