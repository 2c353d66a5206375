package dev.flotilla.mtls;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * PEM, the format of Kubernetes TLS Secrets: certificates ({@code CERTIFICATE}) and PKCS#8 private
 * keys ({@code PRIVATE KEY}, EC or RSA). Plain JDK, so the data plane needs no extra library.
 */
public final class Pem {
  private static final Pattern PRIVATE_KEY =
      Pattern.compile("-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");
  private static final Base64.Encoder BASE64 =
      Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));

  private Pem() {}

  /** Every certificate in the text, in order; none when it holds none. */
  public static List<X509Certificate> certificates(String pem) throws CertificateException {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    List<X509Certificate> out = new ArrayList<>();
    for (Certificate c :
        factory.generateCertificates(
            new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))) {
      out.add((X509Certificate) c);
    }
    return out;
  }

  /** The one PKCS#8 private key in the text. */
  public static PrivateKey privateKey(String pem) throws GeneralSecurityException {
    Matcher m = PRIVATE_KEY.matcher(pem);
    if (!m.find()) {
      throw new GeneralSecurityException("no PKCS#8 \"PRIVATE KEY\" block");
    }
    byte[] der = Base64.getMimeDecoder().decode(m.group(1));
    GeneralSecurityException last = null;
    for (String algorithm : List.of("EC", "RSA")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        last = e;
      }
    }
    throw new GeneralSecurityException("the private key is neither EC nor RSA", last);
  }

  public static String encode(List<X509Certificate> certificates) {
    StringBuilder out = new StringBuilder();
    for (X509Certificate c : certificates) {
      try {
        out.append(block("CERTIFICATE", c.getEncoded()));
      } catch (CertificateEncodingException e) {
        throw new IllegalArgumentException("certificate cannot be encoded", e);
      }
    }
    return out.toString();
  }

  public static String encode(X509Certificate certificate) {
    return encode(List.of(certificate));
  }

  /** A private key as PKCS#8 ({@code PRIVATE KEY}). */
  public static String encode(PrivateKey key) {
    if (!"PKCS#8".equals(key.getFormat())) {
      throw new IllegalArgumentException("not a PKCS#8 key: " + key.getFormat());
    }
    return block("PRIVATE KEY", key.getEncoded());
  }

  private static String block(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + BASE64.encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }
}
