package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.ChoiceEnd;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.Timings;
import dev.flotilla.api.v1.Usage;
import dev.flotilla.api.worker.v1.WorkerFinal;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;

/**
 * How a request ended and what it used: the one value its usage event, its metrics and its client's
 * answer are made from. The code that sees the end says how ({@link #completed}, {@link #failed},
 * {@link #deadlinePassed}, {@link #clientGone}); finishing adds the tokens and times ({@link
 * #measured}).
 *
 * @param status the gRPC code name billed: {@code OK}, {@code CANCELLED}, ...
 * @param reason why generation stopped: the worker's reason for {@code OK}
 * @param error what the client hears; null when it completed, or when it is gone and hears nothing
 * @param promptTokens the prompt billed; until measured, the worker's own count when its final
 *     message gave one, else 0
 * @param completionTokens tokens streamed to the client
 * @param queueMs held while cold plus waiting in the fair queue
 * @param timeToFirstTokenMs arrival to the first token; -1 when there was none
 * @param totalMs arrival to the end
 * @param choices how each choice ended, for a request of several; empty otherwise
 */
record RequestOutcome(
    String status,
    FinishReason reason,
    StatusRuntimeException error,
    int promptTokens,
    int completionTokens,
    long queueMs,
    long timeToFirstTokenMs,
    long totalMs,
    List<ChoiceEnd> choices) {

  /** The worker's final message: the stream completes with the usage it reports. */
  static RequestOutcome completed(WorkerFinal fin) {
    return new RequestOutcome(
        "OK",
        fin.getFinishReason(),
        null,
        fin.getUsage().getPromptTokens(),
        0,
        0,
        -1,
        0,
        List.copyOf(fin.getChoicesList()));
  }

  /** Refused or failed: the client hears {@code error}, and is billed under its code. */
  static RequestOutcome failed(StatusRuntimeException error) {
    return new RequestOutcome(
        error.getStatus().getCode().name(),
        FinishReason.FINISH_REASON_UNSPECIFIED,
        error,
        0,
        0,
        0,
        -1,
        0,
        List.of());
  }

  /**
   * The client's deadline, which the worker call carries too, passed: the request ends as the
   * client's own deadline ends it, whichever of the two timers fired first.
   */
  static RequestOutcome deadlinePassed() {
    return new RequestOutcome(
        "DEADLINE_EXCEEDED",
        FinishReason.CANCELLED,
        Status.DEADLINE_EXCEEDED
            .withDescription("the request's deadline passed")
            .asRuntimeException(),
        0,
        0,
        0,
        -1,
        0,
        List.of());
  }

  /** The client cancelled or its deadline passed: it hears nothing more. */
  static RequestOutcome clientGone(boolean deadlineExceeded) {
    return new RequestOutcome(
        deadlineExceeded ? "DEADLINE_EXCEEDED" : "CANCELLED",
        FinishReason.CANCELLED,
        null,
        0,
        0,
        0,
        -1,
        0,
        List.of());
  }

  /** Whether the client went away, so what the request still holds is withdrawn or cancelled. */
  boolean clientGone() {
    return error == null && !completedOk();
  }

  /** This outcome with the tokens and times the request used. */
  RequestOutcome measured(
      int promptTokens, int completionTokens, long queueMs, long timeToFirstTokenMs, long totalMs) {
    return new RequestOutcome(
        status,
        reason,
        error,
        promptTokens,
        completionTokens,
        queueMs,
        timeToFirstTokenMs,
        totalMs,
        choices);
  }

  /** The stream's last message for a request that completed; null for any other outcome. */
  Final answer(String requestId) {
    if (!completedOk()) {
      return null;
    }
    return Final.newBuilder()
        .setRequestId(requestId)
        .setFinishReason(reason)
        .setUsage(
            Usage.newBuilder()
                .setPromptTokens(promptTokens)
                .setCompletionTokens(completionTokens)
                .setTotalTokens(promptTokens + completionTokens))
        .setTimings(
            Timings.newBuilder()
                .setQueueMs(queueMs)
                .setTimeToFirstTokenMs(Math.max(0, timeToFirstTokenMs))
                .setTotalMs(totalMs))
        .addAllChoices(choices)
        .build();
  }

  private boolean completedOk() {
    return error == null && "OK".equals(status);
  }
}
