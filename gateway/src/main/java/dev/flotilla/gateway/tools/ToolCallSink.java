package dev.flotilla.gateway.tools;

import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.FinishReason;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.gateway.service.ResponseSink;
import io.grpc.StatusRuntimeException;

/**
 * A request's output with its tool calls taken out: content goes on as text, calls stream as {@link
 * TokenChunk#getToolCallsList() deltas} while the model writes them and arrive whole on the final
 * message ({@link Final#getToolCallsList()}) with finish reason {@code TOOL_CALLS}. Every transport
 * (gRPC Generate and Complete, OpenAI JSON and SSE) gets the same split.
 */
public final class ToolCallSink implements ResponseSink {
  private final ResponseSink next;
  private final boolean oneCall;
  private final ToolCallText text = new ToolCallText();

  private ToolCallSink(ResponseSink next, boolean oneCall) {
    this.next = next;
    this.oneCall = oneCall;
  }

  /**
   * Whether the output must end after its first call: {@code auto} with {@code parallel_tool_calls}
   * false. The worker request then stops at {@link #CALL_END} ({@link #workerStops}), which ends
   * the first call.
   */
  public static boolean endsAfterFirstCall(GenerateRequest request) {
    ToolChoice choice = request.getToolChoice();
    return offersTools(request)
        && choice.getMode() == ToolChoice.Mode.AUTO
        && choice.hasParallelToolCalls()
        && !choice.getParallelToolCalls();
  }

  /** The text that ends a call, and the output of a request that {@link #endsAfterFirstCall}. */
  public static final String CALL_END = ToolCallText.CLOSE;

  /** {@code sink} itself when the request offers no tools or chose {@code none}. */
  public static ResponseSink wrap(GenerateRequest request, ResponseSink sink) {
    return offersTools(request) && request.getToolChoice().getMode() != ToolChoice.Mode.NONE
        ? new ToolCallSink(sink, endsAfterFirstCall(request))
        : sink;
  }

  private static boolean offersTools(GenerateRequest request) {
    return request.getInputCase() == GenerateRequest.InputCase.CHAT
        && !request.getChat().getToolsJson().isEmpty();
  }

  @Override
  public boolean isReady() {
    return next.isReady();
  }

  @Override
  public void tokens(TokenChunk chunk) {
    ToolCallText.Piece piece = text.add(chunk.getText());
    next.tokens(chunk.toBuilder().setText(piece.content()).addAllToolCalls(piece.deltas()).build());
  }

  @Override
  public void progress(HeldProgress progress) {
    next.progress(progress);
  }

  @Override
  public void complete(Final fin) {
    if (oneCall && fin.getFinishReason() == FinishReason.STOP_SEQUENCE && text.inCall()) {
      // the worker stopped at the call's end, which it leaves out of the output
      tokens(TokenChunk.newBuilder().setText(CALL_END).build());
    }
    ToolCallText.Piece rest = text.finish();
    if (!rest.isEmpty()) {
      next.tokens(
          TokenChunk.newBuilder().setText(rest.content()).addAllToolCalls(rest.deltas()).build());
    }
    if (text.calls().isEmpty()) {
      next.complete(fin);
      return;
    }
    Final.Builder out = fin.toBuilder().addAllToolCalls(text.calls());
    if (fin.getFinishReason() == FinishReason.STOP
        || fin.getFinishReason() == FinishReason.STOP_SEQUENCE) {
      out.setFinishReason(FinishReason.TOOL_CALLS);
    }
    next.complete(out.build());
  }

  @Override
  public void fail(StatusRuntimeException error) {
    next.fail(error);
  }
}
