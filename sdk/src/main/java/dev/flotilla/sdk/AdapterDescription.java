package dev.flotilla.sdk;

/**
 * A LoRA adapter the caller may use on top of a base model.
 *
 * @param name the name to pass as {@link CompletionRequest.Builder#adapter(String)}
 * @param visibility whether only its owning tenant or everyone may use it
 * @param rank the adapter's LoRA rank
 */
public record AdapterDescription(String name, Visibility visibility, int rank) {

  /** Who may use an adapter. */
  public enum Visibility {
    /** Only the tenant that owns it. */
    PRIVATE,
    /** Every tenant allowed to use the base model. */
    PUBLIC,
    /** The server did not say, or said something this SDK version does not know. */
    UNSPECIFIED
  }
}
