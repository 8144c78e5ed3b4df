import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** The local stack's certificates, all PEM: a CA, the brokers' key and certificate, and a client's. */
export interface TlsMaterial {
  readonly dir: string;
  /** The CA certificate: the brokers' truststore, and KAFKA_TLS_CA_FILE for the clients. */
  readonly caPem: string;
  /** The brokers' private key (PKCS#8) followed by their certificate: Kafka's PEM keystore. */
  readonly brokerKeystorePem: string;
  /** A client certificate and key signed by the CA (KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE), for mutual TLS. */
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

function openssl(args: readonly string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error(`openssl could not run (${result.error.message}); install it to run the SASL_SSL listener`);
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr || result.stdout}`);
}

/**
 * Makes the certificates once (kept in `dir`, so clients keep trusting the CA across restarts): a CA, a broker
 * certificate for `hosts` (IP or DNS subject alternative names), a client certificate. OpenSSL 3 writes unencrypted
 * PKCS#8 keys, which Kafka's PEM keystore reads without a key password.
 */
export function ensureTlsMaterial(dir: string, hosts: readonly string[], report: (line: string) => void = () => {}): TlsMaterial {
  const material: TlsMaterial = {
    dir,
    caPem: join(dir, 'ca.pem'),
    brokerKeystorePem: join(dir, 'broker-keystore.pem'),
    clientCertPem: join(dir, 'client.pem'),
    clientKeyPem: join(dir, 'client.key'),
  };
  if (existsSync(material.brokerKeystorePem) && existsSync(material.clientKeyPem)) return material;
  mkdirSync(dir, { recursive: true });
  const days = '825';
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      days,
      '-subj',
      '/CN=Tickflow local CA',
    ],
    dir,
  );
  const names = [...new Set([...hosts, '127.0.0.1', 'localhost'])].map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`));
  writeFileSync(join(dir, 'broker.ext'), `subjectAltName=${names.join(',')}\n`);
  for (const [name, subject, ext] of [
    ['broker', '/CN=localhost', ['-extfile', 'broker.ext']],
    ['client', '/CN=tickflow', []],
  ] as const) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        days,
        ...ext,
      ],
      dir,
    );
  }
  writeFileSync(material.brokerKeystorePem, readFileSync(join(dir, 'broker.key'), 'utf8') + readFileSync(join(dir, 'broker.pem'), 'utf8'));
  report(`tls: made a CA and broker/client certificates in ${dir} (for ${names.join(', ')})`);
  return material;
}
