package dev.flotilla.mtls.ca;

import dev.flotilla.mtls.Credentials;
import dev.flotilla.mtls.Identities;
import dev.flotilla.mtls.Pem;
import dev.flotilla.mtls.TlsFiles;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Date;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The internal CA: issues the certificates of gateways, workers and the operator, and rotates
 * itself. Pure and immutable: time comes in as an argument, a rotation returns a new authority, and
 * the operator stores what {@link #toSecretData()} returns in a Secret.
 *
 * <p>It holds up to three generations:
 *
 * <ul>
 *   <li>the <b>signing</b> CA, which issues every certificate;
 *   <li>the <b>next</b> CA, created at two thirds of the signing CA's life, trusted everywhere but
 *       not yet signing; after {@link CertificatePolicy#caPropagation()} it becomes the signing CA;
 *   <li><b>retired</b> CAs, certificates only (their keys are gone), trusted until they expire so
 *       that what they signed stays valid until it is renewed.
 * </ul>
 *
 * The {@link #trustBundle() trust bundle} is all of them. Certificates are EC P-256, signed with
 * SHA256withECDSA; validity starts {@link #CLOCK_SKEW} in the past for peers whose clocks lag.
 */
public final class CertificateAuthority {
  /** How far back validity starts, for clocks that lag the operator's. */
  public static final Duration CLOCK_SKEW = Duration.ofMinutes(1);

  /** Secret data keys: the signing CA ({@code tls.*}, as cert-manager names a CA Secret). */
  public static final String SIGNING_CERTIFICATE = TlsFiles.CERTIFICATE;

  public static final String SIGNING_KEY = TlsFiles.PRIVATE_KEY;
  public static final String NEXT_CERTIFICATE = "next.crt";
  public static final String NEXT_KEY = "next.key";
  public static final String RETIRED_CERTIFICATES = "retired.crt";

  /** The trust bundle, for people and tools; derived, never read back. */
  public static final String TRUST_BUNDLE = TlsFiles.TRUST_BUNDLE;

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final DateTimeFormatter NAME_TIME =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);

  /** A CA certificate with its private key. */
  public record KeyedCertificate(X509Certificate certificate, PrivateKey key) {}

  private final CertificatePolicy policy;
  private final KeyedCertificate signing;
  private final KeyedCertificate next;
  private final List<X509Certificate> retired;

  private CertificateAuthority(
      CertificatePolicy policy,
      KeyedCertificate signing,
      KeyedCertificate next,
      List<X509Certificate> retired) {
    this.policy = policy;
    this.signing = Objects.requireNonNull(signing);
    this.next = next;
    this.retired = List.copyOf(retired);
  }

  /** A brand-new CA, signing at once. */
  public static CertificateAuthority create(CertificatePolicy policy, Instant now) {
    return new CertificateAuthority(policy, newCa(policy, now), null, List.of());
  }

  public CertificatePolicy policy() {
    return policy;
  }

  public X509Certificate signingCertificate() {
    return signing.certificate();
  }

  public Optional<X509Certificate> nextCertificate() {
    return next == null ? Optional.empty() : Optional.of(next.certificate());
  }

  public List<X509Certificate> retiredCertificates() {
    return retired;
  }

  /** Every CA a peer's certificate may chain to, oldest first. */
  public List<X509Certificate> trustBundle() {
    List<X509Certificate> all = new ArrayList<>(retired);
    all.add(signing.certificate());
    if (next != null) {
      all.add(next.certificate());
    }
    all.sort(Comparator.comparing(X509Certificate::getNotBefore));
    return List.copyOf(all);
  }

  // --- rotation ---

  /**
   * The authority as it should be at {@code now}; this same instance when nothing is due. One step
   * per call, in this order: expired retired CAs leave; an expired signing CA is replaced at once
   * (by the next CA if there is one; the operator was down for too long); a next CA that has been
   * trusted for {@code caPropagation} starts signing and the signing one retires; a signing CA past
   * two thirds of its life gets a successor.
   */
  public CertificateAuthority rotate(Instant now) {
    List<X509Certificate> stillValid =
        retired.stream().filter(c -> c.getNotAfter().toInstant().isAfter(now)).toList();
    boolean pruned = stillValid.size() != retired.size();
    if (!signing.certificate().getNotAfter().toInstant().isAfter(now)) {
      KeyedCertificate replacement =
          next != null && next.certificate().getNotAfter().toInstant().isAfter(now)
              ? next
              : newCa(policy, now);
      return new CertificateAuthority(policy, replacement, null, stillValid);
    }
    if (next != null && !now.isBefore(promoteAt(next.certificate()))) {
      List<X509Certificate> nowRetired = new ArrayList<>(stillValid);
      nowRetired.add(signing.certificate());
      return new CertificateAuthority(policy, next, null, nowRetired);
    }
    if (next == null && !now.isBefore(renewAt(signing.certificate()))) {
      return new CertificateAuthority(policy, signing, newCa(policy, now), stillValid);
    }
    return pruned ? new CertificateAuthority(policy, signing, next, stillValid) : this;
  }

  /** When {@link #rotate} will next change something. */
  public Instant nextRotation() {
    Instant at = next == null ? renewAt(signing.certificate()) : promoteAt(next.certificate());
    at = earliest(at, signing.certificate().getNotAfter().toInstant());
    for (X509Certificate r : retired) {
      at = earliest(at, r.getNotAfter().toInstant());
    }
    return at;
  }

  /** The moment a next CA, trusted since it was created, may start signing. */
  private Instant promoteAt(X509Certificate nextCa) {
    return nextCa.getNotBefore().toInstant().plus(CLOCK_SKEW).plus(policy.caPropagation());
  }

  /** Two thirds into a certificate's life: the time to replace it. */
  public static Instant renewAt(X509Certificate certificate) {
    Instant from = certificate.getNotBefore().toInstant();
    Duration life = Duration.between(from, certificate.getNotAfter().toInstant());
    return from.plus(life.multipliedBy(2).dividedBy(3));
  }

  private static Instant earliest(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }

  // --- issuing ---

  /**
   * A certificate for {@code identity}, signed by the signing CA, valid for the policy's workload
   * lifetime or until the CA expires, whichever comes first.
   */
  public IssuedCertificate issue(String identity, Usage usage, Instant now) {
    if (!identity.startsWith("spiffe://" + Identities.TRUST_DOMAIN + "/")) {
      throw new IllegalArgumentException("not a Flotilla identity: " + identity);
    }
    KeyPair keys = newKeyPair();
    Instant notAfter =
        earliest(
            now.plus(policy.workloadLifetime()), signing.certificate().getNotAfter().toInstant());
    String role = identity.substring(("spiffe://" + Identities.TRUST_DOMAIN + "/").length());
    role = role.contains("/") ? role.substring(0, role.indexOf('/')) : role;
    try {
      JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
                  signing.certificate(),
                  serial(),
                  Date.from(now.minus(CLOCK_SKEW)),
                  Date.from(notAfter),
                  new X500Name("CN=flotilla-" + role),
                  keys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
              .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
              .addExtension(
                  Extension.extendedKeyUsage,
                  false,
                  new ExtendedKeyUsage(
                      usage == Usage.CLIENT
                          ? KeyPurposeId.id_kp_clientAuth
                          : KeyPurposeId.id_kp_serverAuth))
              .addExtension(
                  Extension.subjectAlternativeName,
                  false,
                  new GeneralNames(
                      new GeneralName(GeneralName.uniformResourceIdentifier, identity)))
              .addExtension(
                  Extension.authorityKeyIdentifier,
                  false,
                  extensions.createAuthorityKeyIdentifier(signing.certificate()))
              .addExtension(
                  Extension.subjectKeyIdentifier,
                  false,
                  extensions.createSubjectKeyIdentifier(keys.getPublic()));
      return new IssuedCertificate(sign(builder, signing.key()), keys.getPrivate(), trustBundle());
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot issue a certificate for " + identity, e);
    }
  }

  /**
   * Why the TLS Secret {@code data} (PEM text by file name) must be issued again for {@code
   * identity}; empty while it is good. Renewal is due when anything is missing or unreadable, the
   * key does not match, the identity differs, the signing CA did not issue it (it rotated), the
   * trust bundle changed, or two thirds of its life have passed.
   */
  public Optional<String> renewalReason(Map<String, String> data, String identity, Instant now) {
    String certificate = data.get(TlsFiles.CERTIFICATE);
    String key = data.get(TlsFiles.PRIVATE_KEY);
    String bundle = data.get(TlsFiles.TRUST_BUNDLE);
    if (certificate == null || key == null || bundle == null) {
      return Optional.of("no certificate yet");
    }
    X509Certificate leaf;
    try {
      List<X509Certificate> chain = Pem.certificates(certificate);
      if (chain.isEmpty()) {
        return Optional.of("the certificate is unreadable");
      }
      leaf = chain.get(0);
      if (!Credentials.keyMatches(leaf, Pem.privateKey(key))) {
        return Optional.of("the private key does not match the certificate");
      }
    } catch (GeneralSecurityException | RuntimeException e) {
      return Optional.of("the certificate or key is unreadable");
    }
    if (!identity.equals(Identities.of(leaf).orElse(null))) {
      return Optional.of("it names another identity");
    }
    if (!issuedBySigningCa(leaf)) {
      return Optional.of("the CA that signed it no longer signs (CA rotation)");
    }
    if (!Pem.encode(trustBundle()).equals(bundle)) {
      return Optional.of("the trust bundle changed");
    }
    if (!now.isBefore(renewAt(leaf))) {
      return Optional.of("two thirds of its life have passed");
    }
    return Optional.empty();
  }

  private boolean issuedBySigningCa(X509Certificate leaf) {
    X509Certificate ca = signing.certificate();
    if (!leaf.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) {
      return false;
    }
    try {
      leaf.verify(ca.getPublicKey());
      return true;
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  // --- storage ---

  /** The authority as Secret data, PEM text by key ({@link #SIGNING_CERTIFICATE} and the rest). */
  public Map<String, String> toSecretData() {
    Map<String, String> data = new LinkedHashMap<>();
    data.put(SIGNING_CERTIFICATE, Pem.encode(signing.certificate()));
    data.put(SIGNING_KEY, Pem.encode(signing.key()));
    if (next != null) {
      data.put(NEXT_CERTIFICATE, Pem.encode(next.certificate()));
      data.put(NEXT_KEY, Pem.encode(next.key()));
    }
    if (!retired.isEmpty()) {
      data.put(RETIRED_CERTIFICATES, Pem.encode(retired));
    }
    data.put(TRUST_BUNDLE, Pem.encode(trustBundle()));
    return data;
  }

  /** The authority stored by {@link #toSecretData()}. */
  public static CertificateAuthority fromSecretData(
      CertificatePolicy policy, Map<String, String> data) throws GeneralSecurityException {
    KeyedCertificate signing = keyed(data, SIGNING_CERTIFICATE, SIGNING_KEY);
    if (signing == null) {
      throw new GeneralSecurityException(
          "no " + SIGNING_CERTIFICATE + " and " + SIGNING_KEY + " in the CA Secret");
    }
    String retired = data.get(RETIRED_CERTIFICATES);
    return new CertificateAuthority(
        policy,
        signing,
        keyed(data, NEXT_CERTIFICATE, NEXT_KEY),
        retired == null ? List.of() : Pem.certificates(retired));
  }

  private static KeyedCertificate keyed(Map<String, String> data, String cert, String key)
      throws GeneralSecurityException {
    if (data.get(cert) == null || data.get(key) == null) {
      return null;
    }
    List<X509Certificate> certificates = Pem.certificates(data.get(cert));
    if (certificates.size() != 1) {
      throw new GeneralSecurityException(cert + " holds " + certificates.size() + " certificates");
    }
    PrivateKey privateKey = Pem.privateKey(data.get(key));
    if (!Credentials.keyMatches(certificates.get(0), privateKey)) {
      throw new GeneralSecurityException(key + " does not match " + cert);
    }
    return new KeyedCertificate(certificates.get(0), privateKey);
  }

  // --- certificates ---

  private static KeyedCertificate newCa(CertificatePolicy policy, Instant now) {
    KeyPair keys = newKeyPair();
    // A unique subject per generation: two CAs of one name would make path building guess.
    X500Name name =
        new X500Name(
            "CN=Flotilla internal CA "
                + NAME_TIME.format(now)
                + " "
                + HexFormat.of().formatHex(serial().toByteArray(), 0, 4)
                + ",O=flotilla.dev");
    try {
      JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder builder =
          new JcaX509v3CertificateBuilder(
                  name,
                  serial(),
                  Date.from(now.minus(CLOCK_SKEW)),
                  Date.from(now.plus(policy.caLifetime())),
                  name,
                  keys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
              .addExtension(
                  Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
              .addExtension(
                  Extension.subjectKeyIdentifier,
                  false,
                  extensions.createSubjectKeyIdentifier(keys.getPublic()));
      return new KeyedCertificate(sign(builder, keys.getPrivate()), keys.getPrivate());
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("cannot create a CA certificate", e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot make EC P-256 keys", e);
    }
  }

  /** 127 random bits: positive, unique, unpredictable. */
  private static BigInteger serial() {
    return new BigInteger(127, RANDOM).setBit(126);
  }
}
