package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.TokenChunk;
import io.grpc.StatusRuntimeException;
import java.util.List;

/**
 * Where one request's output goes: a gRPC server stream (Generate), one gRPC message (Complete), or
 * an OpenAI HTTP response (JSON or Server-Sent Events). Calls for one request never overlap; after
 * {@link #complete} or {@link #fail} nothing more arrives.
 */
public interface ResponseSink {
  /** Whether the client can take another message without buffering. */
  boolean isReady();

  void tokens(TokenChunk chunk);

  /**
   * An embedding request's vectors, one per input in order; {@link #complete} follows. Only sinks
   * of embedding requests take them.
   */
  default void embeddings(List<Embedding> vectors) {
    throw new UnsupportedOperationException("this response takes no embeddings");
  }

  void progress(HeldProgress progress);

  void complete(Final fin);

  void fail(StatusRuntimeException error);
}
