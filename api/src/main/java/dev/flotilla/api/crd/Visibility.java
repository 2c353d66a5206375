package dev.flotilla.api.crd;

/** Who may use an adapter: its owning tenant only, or every tenant allowed on the model. */
public enum Visibility {
  Private,
  Public
}
