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
 * A request's output with its tool calls taken out: content goes on as text, calls arrive on the
 * final message ({@link Final#getToolCallsList()}) with finish reason {@code TOOL_CALLS}. Every
 * transport (gRPC Generate and Complete, OpenAI JSON and SSE) gets the same split.
 */
public final class ToolCallSink implements ResponseSink {
  private final ResponseSink next;
  private final ToolCallText text = new ToolCallText();

  private ToolCallSink(ResponseSink next) {
    this.next = next;
  }

  /** {@code sink} itself when the request offers no tools or chose {@code none}. */
  public static ResponseSink wrap(GenerateRequest request, ResponseSink sink) {
    boolean tools =
        request.getInputCase() == GenerateRequest.InputCase.CHAT
            && !request.getChat().getToolsJson().isEmpty();
    return tools && request.getToolChoice().getMode() != ToolChoice.Mode.NONE
        ? new ToolCallSink(sink)
        : sink;
  }

  @Override
  public boolean isReady() {
    return next.isReady();
  }

  @Override
  public void tokens(TokenChunk chunk) {
    String content = text.add(chunk.getText());
    next.tokens(chunk.toBuilder().setText(content).build());
  }

  @Override
  public void progress(HeldProgress progress) {
    next.progress(progress);
  }

  @Override
  public void complete(Final fin) {
    String rest = text.finish();
    if (!rest.isEmpty()) {
      next.tokens(TokenChunk.newBuilder().setText(rest).build());
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
