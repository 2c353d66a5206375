package dev.flotilla.workerlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.worker.v1.CallEvent;
import dev.flotilla.api.worker.v1.GenerateStreamRequest;
import dev.flotilla.api.worker.v1.GenerateStreamResponse;
import dev.flotilla.api.worker.v1.WorkerFinal;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateResponse;
import dev.flotilla.api.worker.v1.WorkerGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * {@link GenerateSession} against a scripted worker over a real socket: the credit its listeners
 * hand back while it reads a response leaves in one message.
 */
class GenerateSessionIT {

  /** Answers the first three starts with one response that has a token for each. */
  static final class ScriptedWorker extends WorkerGrpc.WorkerImplBase {
    final List<GenerateStreamRequest> received = new CopyOnWriteArrayList<>();

    @Override
    public StreamObserver<GenerateStreamRequest> generateStream(
        StreamObserver<GenerateStreamResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(GenerateStreamRequest request) {
          received.add(request);
          if (received.size() == 3) {
            GenerateStreamResponse.Builder r = GenerateStreamResponse.newBuilder();
            for (GenerateStreamRequest start : received) {
              r.addEvents(
                  CallEvent.newBuilder()
                      .setCallId(start.getStart().getCallId())
                      .setResponse(
                          WorkerGenerateResponse.newBuilder()
                              .setTokens(TokenChunk.newBuilder().setText("t"))));
            }
            out.onNext(r.build());
          }
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {
          out.onCompleted();
        }
      };
    }
  }

  /** Hands back one message of credit per token, from inside the callback. */
  static final class Crediting implements GenerateListener {
    final AtomicReference<GenerateCall> call = new AtomicReference<>();

    @Override
    public void onTokens(TokenChunk chunk) {
      call.get().request(1);
    }

    @Override
    public void onFinal(WorkerFinal fin) {}

    @Override
    public void onError(Status status) {}
  }

  @Test
  void creditHandedBackWhileAResponseIsReadLeavesInOneMessage() throws Exception {
    ScriptedWorker worker = new ScriptedWorker();
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(worker)
            .build()
            .start();
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.getPort(), InsecureChannelCredentials.create())
            .build();
    ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
    try {
      GenerateSession session = GenerateSession.open(channel, timer, s -> {});
      List<Crediting> listeners = List.of(new Crediting(), new Crediting(), new Crediting());
      for (Crediting l : listeners) {
        l.call.set(session.start(WorkerGenerateRequest.getDefaultInstance(), l, null, 1));
      }
      await().atMost(5, TimeUnit.SECONDS).until(() -> worker.received.size() == 4);
      GenerateStreamRequest credits = worker.received.get(3);
      assertThat(credits.getCredits().getCreditsList())
          .extracting(c -> c.getCallId() + "+" + c.getMessages())
          .containsExactly("1+1", "2+1", "3+1");

      listeners.get(1).call.get().request(5); // outside a read: sent at once, alone
      await().atMost(5, TimeUnit.SECONDS).until(() -> worker.received.size() == 5);
      assertThat(worker.received.get(4).getCredits().getCreditsList())
          .extracting(c -> c.getCallId() + "+" + c.getMessages())
          .containsExactly("2+5");
      session.close();
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      timer.shutdownNow();
    }
  }
}
