package dev.flotilla.api.crd;

/** Priority band of a tenant's requests in the gateway's fair queue; higher bands go first. */
public enum Priority {
  High,
  Normal,
  Low
}
