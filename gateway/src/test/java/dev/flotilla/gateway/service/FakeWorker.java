package dev.flotilla.gateway.service;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import dev.flotilla.api.prefix.PrefixBloom;
import dev.flotilla.api.prefix.PrefixKeys;
import dev.flotilla.api.v1.ChoiceEnd;
import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.TopLogprobs;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.LoadAdapterRequest;
import dev.flotilla.api.worker.v1.LoadAdapterResponse;
import dev.flotilla.api.worker.v1.StatsRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerEmbedResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.api.worker.v1.WorkerStats;
import dev.flotilla.workerlink.GenerateStreamServer;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A worker over a real loopback gRPC server: streams N numbered tokens, fails on demand. */
public final class FakeWorker extends WorkerGrpc.WorkerImplBase implements AutoCloseable {
  final String id;
  final Server server;
  public volatile int tokens = 5;

  /** Fail with UNAVAILABLE after this many tokens; -1 never. */
  public volatile int failAfter = -1;

  /** Text sent alone after the last token, as the worker flushes held-back text; empty: none. */
  public volatile String trailingText = "";

  /** The trailing text goes out in chunks of this many characters. */
  public volatile int trailingPieceLength = Integer.MAX_VALUE;

  /** Announce this prompt length with the first tokens, as a real worker does; -1: none. */
  public volatile int announcedPromptTokens = -1;

  /** Refuse every Generate with this status (as a worker refuses bad input); null: serve. */
  public volatile Status refuseWith;

  /** Stream nothing after the first token until released (to observe cancellation). */
  public volatile boolean stallAfterFirst;

  volatile boolean serving = true;
  public volatile int maxBatch = 8;
  public volatile int freeKvBlocks = 100;
  final Set<String> resident = ConcurrentHashMap.newKeySet();

  /** Record each request's prefix keys and report them, as a real worker does. */
  public volatile boolean reportsPrefixes;

  private final Set<Long> heldPrefixes = ConcurrentHashMap.newKeySet();
  public final List<WorkerGenerateRequest> generated = new CopyOnWriteArrayList<>();
  final List<LoadAdapterRequest> loads = new CopyOnWriteArrayList<>();

  /** Embed calls received, in order. */
  public final List<WorkerEmbedRequest> embedded = new CopyOnWriteArrayList<>();

  /** Length of the vectors Embed answers with: the fake model's hidden size. */
  public static final int EMBED_DIMENSIONS = 3;

  public final AtomicInteger cancelled = new AtomicInteger();

  /** Serve GenerateStream; false answers it UNIMPLEMENTED, as a worker without it would. */
  public volatile boolean servesGenerateStream = true;

  /** GenerateStream calls opened. */
  public final AtomicInteger generateStreams = new AtomicInteger();

  /** GenerateStream calls the gateway ended (half-closed or cancelled). */
  public final AtomicInteger generateStreamsEnded = new AtomicInteger();

  private final List<StreamObserver<WorkerStats>> statsStreams = new CopyOnWriteArrayList<>();

  public FakeWorker(String id) throws IOException {
    this(id, InsecureServerCredentials.create());
  }

  /** A worker whose port speaks {@code credentials} (e.g. mutual TLS). */
  public FakeWorker(String id, ServerCredentials credentials) throws IOException {
    this.id = id;
    this.server = Grpc.newServerBuilderForPort(0, credentials).addService(this).build().start();
  }

  public String address() {
    return "127.0.0.1:" + server.getPort();
  }

  WorkerStats stats() {
    WorkerStats.Builder b =
        WorkerStats.newBuilder()
            .setWorkerId(id)
            .setServing(serving)
            .setMaxBatchSize(maxBatch)
            .setAdapterSlots(4)
            .addAllResidentAdapters(resident)
            .setFreeKvBlocks(freeKvBlocks)
            .setTimestampMs(System.currentTimeMillis());
    if (reportsPrefixes) {
      long[] keys = heldPrefixes.stream().mapToLong(Long::longValue).toArray();
      b.setHeldPrefixes(PrefixBloom.build(keys, keys.length));
    }
    return b.build();
  }

  /** Pushes a stats snapshot to every watcher now. */
  public void publish() {
    statsStreams.forEach(
        s -> {
          synchronized (s) {
            s.onNext(stats());
          }
        });
  }

  @Override
  public void stats(StatsRequest request, StreamObserver<WorkerStats> observer) {
    synchronized (observer) {
      observer.onNext(stats());
    }
    statsStreams.add(observer);
    ((ServerCallStreamObserver<WorkerStats>) observer)
        .setOnCancelHandler(() -> statsStreams.remove(observer));
  }

  @Override
  public void loadAdapter(LoadAdapterRequest request, StreamObserver<LoadAdapterResponse> out) {
    loads.add(request);
    resident.add(request.getName());
    out.onNext(LoadAdapterResponse.newBuilder().setRank(8).build());
    out.onCompleted();
  }

  @Override
  public StreamObserver<GenerateStreamRequest> generateStream(
      StreamObserver<GenerateStreamResponse> out) {
    if (!servesGenerateStream) {
      return super.generateStream(out);
    }
    generateStreams.incrementAndGet();
    StreamObserver<GenerateStreamRequest> in =
        GenerateStreamServer.serve(out, this::generate, null);
    return new StreamObserver<>() {
      @Override
      public void onNext(GenerateStreamRequest request) {
        in.onNext(request);
      }

      @Override
      public void onError(Throwable t) {
        generateStreamsEnded.incrementAndGet();
        in.onError(t);
      }

      @Override
      public void onCompleted() {
        generateStreamsEnded.incrementAndGet();
        in.onCompleted();
      }
    };
  }

  @Override
  public void generate(
      WorkerGenerateRequest request, StreamObserver<WorkerGenerateResponse> observer) {
    generated.add(request);
    if (reportsPrefixes) {
      for (long k : PrefixKeys.of(request).keys()) {
        heldPrefixes.add(k);
      }
    }
    if (refuseWith != null) {
      observer.onError(refuseWith.asRuntimeException());
      return;
    }
    ServerCallStreamObserver<WorkerGenerateResponse> call =
        (ServerCallStreamObserver<WorkerGenerateResponse>) observer;
    call.setOnCancelHandler(cancelled::incrementAndGet);
    int n = Math.min(tokens, request.getSampling().getMaxTokens());
    if (request.getSampling().getN() > 1) {
      choices(request, n, observer);
      return;
    }
    for (int i = 0; i < n; i++) {
      if (failAfter == i) {
        observer.onError(Status.UNAVAILABLE.withDescription("engine crashed").asRuntimeException());
        return;
      }
      if (call.isCancelled()) {
        return;
      }
      TokenChunk.Builder chunk =
          TokenChunk.newBuilder().setText("t" + i + " ").addTokenIds(100 + i);
      if (request.getLogprobs()) {
        chunk.addLogprobs(-0.25f * (i + 1)).addTokens("t" + i + " ");
        int k = request.getSampling().getTopLogprobs();
        if (k > 0) {
          // the sampled token first, then "alt1".."alt<k-1>" at -1, -2, ...
          TopLogprobs.Builder top =
              TopLogprobs.newBuilder()
                  .addTokenIds(100 + i)
                  .addLogprobs(-0.25f * (i + 1))
                  .addTokens("t" + i + " ");
          for (int j = 1; j < k; j++) {
            top.addTokenIds(j).addLogprobs(-j).addTokens("alt" + j);
          }
          chunk.addTopLogprobs(top);
        }
      }
      WorkerGenerateResponse.Builder message = WorkerGenerateResponse.newBuilder().setTokens(chunk);
      if (i == 0 && announcedPromptTokens >= 0) {
        message.setPromptTokens(announcedPromptTokens);
      }
      observer.onNext(message.build());
      if (stallAfterFirst) {
        return; // never finishes: the client must cancel
      }
    }
    // the trailing text ends before a stop sequence, as a real worker ends it
    String trailing = trailingText;
    boolean stopped = false;
    for (String stop : request.getSampling().getStopList()) {
      int at = trailing.indexOf(stop);
      if (at >= 0) {
        trailing = trailing.substring(0, at);
        stopped = true;
      }
    }
    for (int i = 0; i < trailing.length(); i += trailingPieceLength) {
      String piece = trailing.substring(i, Math.min(trailing.length(), i + trailingPieceLength));
      observer.onNext(
          WorkerGenerateResponse.newBuilder()
              .setTokens(TokenChunk.newBuilder().setText(piece))
              .build());
    }
    int prompt = request.hasPromptTokenIds() ? request.getPromptTokenIds().getIdsCount() : 7;
    observer.onNext(
        WorkerGenerateResponse.newBuilder()
            .setFinal(
                WorkerFinal.newBuilder()
                    .setFinishReason(
                        stopped
                            ? FinishReason.STOP_SEQUENCE
                            : n < request.getSampling().getMaxTokens()
                                ? FinishReason.STOP
                                : FinishReason.LENGTH)
                    .setUsage(
                        Usage.newBuilder()
                            .setPromptTokens(prompt)
                            .setCompletionTokens(n)
                            .setTotalTokens(prompt + n)))
            .build());
    observer.onCompleted();
  }

  /**
   * Answers input i with {@link #embedding}(i), refusing a {@code dimensions} other than {@link
   * #EMBED_DIMENSIONS} as the real worker does. Prompt tokens: the ids, or 5 per text.
   */
  @Override
  public void embed(WorkerEmbedRequest request, StreamObserver<WorkerEmbedResponse> observer) {
    embedded.add(request);
    if (refuseWith != null) {
      observer.onError(refuseWith.asRuntimeException());
      return;
    }
    if (request.getDimensions() != 0 && request.getDimensions() != EMBED_DIMENSIONS) {
      String message = "dimensions must be the model's " + EMBED_DIMENSIONS;
      observer.onError(
          StatusProto.toStatusRuntimeException(
              com.google.rpc.Status.newBuilder()
                  .setCode(Code.INVALID_ARGUMENT_VALUE)
                  .setMessage(message)
                  .addDetails(
                      Any.pack(
                          BadRequest.newBuilder()
                              .addFieldViolations(
                                  BadRequest.FieldViolation.newBuilder()
                                      .setField("dimensions")
                                      .setDescription(message))
                              .build()))
                  .build()));
      return;
    }
    WorkerEmbedResponse.Builder out = WorkerEmbedResponse.newBuilder();
    int prompt = 0;
    for (int i = 0; i < request.getInputsCount(); i++) {
      out.addEmbeddings(embedding(i));
      EmbedInput input = request.getInputs(i);
      prompt += input.hasTokenIds() ? input.getTokenIds().getIdsCount() : 5;
    }
    observer.onNext(out.setPromptTokens(prompt).setTotalMs(1).build());
    observer.onCompleted();
  }

  /** The fake vector of input {@code index}: (index + 1, -0.5, 0.25). */
  public static Embedding embedding(int index) {
    return Embedding.newBuilder().addValues(index + 1).addValues(-0.5f).addValues(0.25f).build();
  }

  /**
   * n choices of {@code count} tokens each, interleaved: choice c's token i is {@code c<c>t<i> }
   * with id {@code 100 + 10 c + i} and, when asked, logprob {@code -0.25 (c + 1) (i + 1)}; every
   * choice ends with LENGTH.
   */
  private static void choices(
      WorkerGenerateRequest request, int count, StreamObserver<WorkerGenerateResponse> observer) {
    int choices = request.getSampling().getN();
    for (int i = 0; i < count; i++) {
      for (int c = 0; c < choices; c++) {
        String text = "c" + c + "t" + i + " ";
        TokenChunk.Builder chunk =
            TokenChunk.newBuilder().setIndex(c).setText(text).addTokenIds(100 + 10 * c + i);
        if (request.getLogprobs()) {
          float logprob = -0.25f * (c + 1) * (i + 1);
          chunk.addLogprobs(logprob).addTokens(text);
          int k = request.getSampling().getTopLogprobs();
          if (k > 0) {
            // the sampled token first, then "c<c>alt1".."c<c>alt<k-1>" at -1, -2, ...
            TopLogprobs.Builder top =
                TopLogprobs.newBuilder()
                    .addTokenIds(100 + 10 * c + i)
                    .addLogprobs(logprob)
                    .addTokens(text);
            for (int j = 1; j < k; j++) {
              top.addTokenIds(j).addLogprobs(-j).addTokens("c" + c + "alt" + j);
            }
            chunk.addTopLogprobs(top);
          }
        }
        observer.onNext(WorkerGenerateResponse.newBuilder().setTokens(chunk).build());
      }
    }
    int prompt = request.hasPromptTokenIds() ? request.getPromptTokenIds().getIdsCount() : 7;
    WorkerFinal.Builder fin =
        WorkerFinal.newBuilder()
            .setFinishReason(FinishReason.LENGTH)
            .setUsage(
                Usage.newBuilder()
                    .setPromptTokens(prompt)
                    .setCompletionTokens(choices * count)
                    .setTotalTokens(prompt + choices * count));
    for (int c = 0; c < choices; c++) {
      fin.addChoices(
          ChoiceEnd.newBuilder()
              .setIndex(c)
              .setFinishReason(FinishReason.LENGTH)
              .setCompletionTokens(count));
    }
    observer.onNext(WorkerGenerateResponse.newBuilder().setFinal(fin).build());
    observer.onCompleted();
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
