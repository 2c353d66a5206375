package dev.flotilla.api.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.UnloadAdapterRequest;
import dev.flotilla.api.worker.v1.UnloadAdapterResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Gateway-to-worker stubs: generation stream, adapter load/unload, the stats stream. */
class WorkerRoundTripTest {

  static final class FakeWorker extends WorkerGrpc.WorkerImplBase {
    @Override
    public void generate(
        WorkerGenerateRequest request, StreamObserver<WorkerGenerateResponse> out) {
      out.onNext(
          WorkerGenerateResponse.newBuilder()
              .setTokens(
                  TokenChunk.newBuilder()
                      .setText(request.getTenant() + "/" + request.getAdapter())
                      .addTokenIds(request.getPriority()))
              .build());
      out.onNext(
          WorkerGenerateResponse.newBuilder()
              .setFinal(
                  WorkerFinal.newBuilder()
                      .setFinishReason(FinishReason.STOP)
                      .setUsage(
                          Usage.newBuilder()
                              .setPromptTokens(request.getPromptTokenIds().getIdsCount())
                              .setCompletionTokens(1))
                      .setTimeBetweenTokensMs(request.getVirtualTokenCounter())
                      .setPreemptions(1))
              .build());
      out.onCompleted();
    }

    @Override
    public void loadAdapter(LoadAdapterRequest request, StreamObserver<LoadAdapterResponse> out) {
      out.onNext(
          LoadAdapterResponse.newBuilder()
              .setRank(request.getSource().length())
              .addTargetModules(request.getBaseModel())
              .build());
      out.onCompleted();
    }

    @Override
    public void unloadAdapter(
        UnloadAdapterRequest request, StreamObserver<UnloadAdapterResponse> out) {
      out.onNext(
          UnloadAdapterResponse.newBuilder()
              .setUnloaded(request.getName().equals("resident"))
              .build());
      out.onCompleted();
    }

    @Override
    public void stats(StatsRequest request, StreamObserver<WorkerStats> out) {
      for (int i = 0; i < 3; i++) {
        out.onNext(
            WorkerStats.newBuilder()
                .setQueueDepth(i)
                .setRunningSequences(2)
                .setFreeKvBlocks(100 - i)
                .addResidentAdapters("a" + i)
                .setServing(true)
                .setTimestampMs(request.getIntervalMs() * i)
                .build());
      }
      out.onCompleted();
    }
  }

  @Test
  void everyWorkerCallRoundTrips() throws Exception {
    try (InProcessGrpc grpc = new InProcessGrpc(new FakeWorker())) {
      WorkerGrpc.WorkerBlockingStub worker = WorkerGrpc.newBlockingStub(grpc.channel);

      List<WorkerGenerateResponse> stream = new ArrayList<>();
      worker
          .generate(
              WorkerGenerateRequest.newBuilder()
                  .setTenant("acme")
                  .setAdapter("support")
                  .setPriority(2)
                  .setVirtualTokenCounter(12.5)
                  .setPromptTokenIds(TokenIds.newBuilder().addIds(1).addIds(2))
                  .build())
          .forEachRemaining(stream::add);
      assertThat(stream.get(0).getTokens().getText()).isEqualTo("acme/support");
      assertThat(stream.get(0).getTokens().getTokenIdsList()).containsExactly(2);
      assertThat(stream.get(1).getFinal().getUsage().getPromptTokens()).isEqualTo(2);
      assertThat(stream.get(1).getFinal().getTimeBetweenTokensMs()).isEqualTo(12.5);

      LoadAdapterResponse loaded =
          worker.loadAdapter(
              LoadAdapterRequest.newBuilder()
                  .setName("support")
                  .setSource("file:///a")
                  .setBaseModel("tiny-llama")
                  .build());
      assertThat(loaded.getRank()).isEqualTo("file:///a".length());
      assertThat(loaded.getTargetModulesList()).containsExactly("tiny-llama");

      assertThat(
              worker
                  .unloadAdapter(UnloadAdapterRequest.newBuilder().setName("resident").build())
                  .getUnloaded())
          .isTrue();
      assertThat(
              worker
                  .unloadAdapter(UnloadAdapterRequest.newBuilder().setName("other").build())
                  .getUnloaded())
          .isFalse();

      Iterator<WorkerStats> stats =
          worker.stats(StatsRequest.newBuilder().setIntervalMs(250).build());
      List<WorkerStats> snapshots = new ArrayList<>();
      stats.forEachRemaining(snapshots::add);
      assertThat(snapshots).extracting(WorkerStats::getFreeKvBlocks).containsExactly(100, 99, 98);
      assertThat(snapshots.get(2).getTimestampMs()).isEqualTo(500);
      assertThat(snapshots.get(1).getResidentAdaptersList()).containsExactly("a1");
    }
  }
}
