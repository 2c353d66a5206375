package dev.flotilla.gateway.schedule;

/** Hears at once when a request is held for a model without a ready worker. */
@FunctionalInterface
public interface AutoscalerNotifier {
  void heldWhileCold(String modelKey);

  AutoscalerNotifier NONE = modelKey -> {};
}
