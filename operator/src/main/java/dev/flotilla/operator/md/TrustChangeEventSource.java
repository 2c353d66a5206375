package dev.flotilla.operator.md;

import dev.flotilla.api.crd.ModelDeployment;
import dev.flotilla.operator.certs.CurrentCa;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.IndexerResourceCache;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;

/**
 * Wakes every ModelDeployment when the CA changes (a successor joins the trust bundle, starts
 * signing, or a retired CA leaves): each model's workers then get a certificate with the new
 * bundle, or from the new signer, at once rather than at their next renewal.
 */
final class TrustChangeEventSource extends SimpleInboundEventSource<ModelDeployment> {
  TrustChangeEventSource(CurrentCa ca, IndexerResourceCache<ModelDeployment> primaries) {
    super("trust");
    ca.onChange(() -> primaries.list().map(ResourceID::fromResource).forEach(this::propagateEvent));
  }
}
