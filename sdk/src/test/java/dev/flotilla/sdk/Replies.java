package dev.flotilla.sdk;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.Usage;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.List;

/** Server messages and errors the fake gateway sends in tests. */
public final class Replies {
  private Replies() {}

  public static GenerateResponse tokens(String text, Integer... ids) {
    return GenerateResponse.newBuilder()
        .setTokens(TokenChunk.newBuilder().setText(text).addAllTokenIds(List.of(ids)))
        .build();
  }

  public static GenerateResponse progress(HeldProgress.Phase phase, long waitedMs, int position) {
    return GenerateResponse.newBuilder()
        .setProgress(
            HeldProgress.newBuilder().setPhase(phase).setWaitedMs(waitedMs).setPosition(position))
        .build();
  }

  public static GenerateResponse finalMessage(String requestId) {
    return GenerateResponse.newBuilder().setFinal(summary(requestId)).build();
  }

  public static CompleteResponse completion(String requestId, String text) {
    return CompleteResponse.newBuilder().setText(text).setFinal(summary(requestId)).build();
  }

  public static Final summary(String requestId) {
    return Final.newBuilder()
        .setRequestId(requestId)
        .setFinishReason(FinishReason.LENGTH)
        .setUsage(Usage.newBuilder().setPromptTokens(3).setCompletionTokens(2).setTotalTokens(5))
        .build();
  }

  /** A status with google.rpc details in its trailer, as the gateway sends them. */
  public static StatusRuntimeException error(Status.Code code, String message, Message... details) {
    com.google.rpc.Status.Builder status =
        com.google.rpc.Status.newBuilder().setCode(code.value()).setMessage(message);
    for (Message detail : details) {
      status.addDetails(Any.pack(detail));
    }
    return StatusProto.toStatusRuntimeException(status.build());
  }

  public static com.google.rpc.RetryInfo retryAfter(Duration delay) {
    return com.google.rpc.RetryInfo.newBuilder()
        .setRetryDelay(
            com.google.protobuf.Duration.newBuilder()
                .setSeconds(delay.getSeconds())
                .setNanos(delay.getNano()))
        .build();
  }
}
