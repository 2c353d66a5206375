package dev.flotilla.worker.structured;

/**
 * A schema the grammar compiler refuses: an unsupported keyword, a malformed value, or a grammar
 * too large to compile. {@link #field()} names the request field (with the path inside the schema)
 * for the caller's 400.
 */
public final class SchemaException extends RuntimeException {
  private final String field;

  public SchemaException(String field, String message) {
    super(message);
    this.field = field;
  }

  /** The request field the refusal concerns, e.g. {@code response_format.json_schema.schema}. */
  public String field() {
    return field;
  }
}
