package dev.flotilla.sdk;

import java.util.List;

/**
 * The vectors of an embedding request.
 *
 * @param requestId the request's id, as usage events carry it
 * @param embeddings one vector per input, in order (unit length when the model normalises)
 * @param usage the inputs' tokens (no completion tokens)
 * @param timings time queued and in all
 */
public record EmbeddingResult(
    String requestId, List<float[]> embeddings, Usage usage, Timings timings) {
  public EmbeddingResult {
    embeddings = List.copyOf(embeddings);
  }
}
