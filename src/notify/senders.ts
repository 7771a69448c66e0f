import http from 'node:http';
import https from 'node:https';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import type { Endpoint, KeyValuePair } from './types';
import type { NotificationMessage } from './render-notification';
import { EndpointRefused, hostOf, policyLookup, resolveEndpoint, type EndpointPolicy } from './ssrf';

/**
 * Delivery of one rendered notification to its endpoint.
 *
 * - HTTP(S): POST of the Notification with its headers (Content-Type, Link, NGSILD-Tenant, the
 *   receiverInfo pairs); 2xx is success, anything else (and a timeout) a failure; redirects are
 *   not followed. Connections are kept alive; every new connection resolves and checks its
 *   address through the endpoint policy (ssrf.ts).
 * - MQTT(S): publish to the topic named by the URI's path (`mqtt://broker:1883/some/topic`), QoS
 *   from notifierInfo `MQTT-QoS` (0, 1, 2; default 0), protocol from `MQTT-Version` (`mqtt3.1.1`
 *   or `mqtt5.0`, the default). The payload is the MQTT binding's wrapper
 *   `{"metadata": {Content-Type, Link, ...receiverInfo}, "body": <Notification>}`. One connection
 *   per broker, user and protocol version, shared by every subscription that names it.
 */

export interface SendResult {
  ok: boolean;
  /** HTTP status, when there was a response */
  status?: number;
  error?: string;
}

export interface Sender {
  send(endpoint: Endpoint, message: NotificationMessage): Promise<SendResult>;
  close(): Promise<void>;
}

export interface SenderOptions {
  policy: EndpointPolicy;
  /** per-request timeout when the endpoint gives none (ms) */
  timeoutMs?: number;
  /** upper bound on endpoint.timeout (ms) */
  maxTimeoutMs?: number;
}

const info = (pairs: KeyValuePair[] | undefined, key: string): string | undefined =>
  pairs?.find((kv) => kv.key.toLowerCase() === key.toLowerCase())?.value;

export class HttpSender implements Sender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;
  private readonly maxTimeoutMs: number;

  constructor(private readonly opts: SenderOptions) {
    const lookup = policyLookup(opts.policy) as unknown as http.AgentOptions['lookup'];
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64, lookup } as http.AgentOptions);
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, lookup } as https.AgentOptions);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxTimeoutMs = opts.maxTimeoutMs ?? 60_000;
  }

  async send(endpoint: Endpoint, message: NotificationMessage): Promise<SendResult> {
    let url: URL;
    try {
      // scheme, literal addresses and host lists; names are checked by the agent's lookup
      url = (await resolveEndpoint(endpoint.uri, this.opts.policy)).url;
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const payload = Buffer.from(JSON.stringify(message.body));
    const timeout = Math.min(Number((endpoint as { timeout?: number }).timeout) || this.timeoutMs, this.maxTimeoutMs);
    const isHttps = url.protocol === 'https:';
    const headers: Record<string, string | number> = { ...message.headers, 'Content-Length': payload.length };
    if (url.username || url.password) {
      headers.Authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
    }
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (r: SendResult) => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const req = (isHttps ? https : http).request(
        {
          method: 'POST',
          protocol: url.protocol,
          hostname: hostOf(url),
          port: url.port || undefined,
          path: url.pathname + url.search,
          headers,
          agent: isHttps ? this.httpsAgent : this.httpAgent,
          timeout,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume(); // drain: the socket goes back to the keep-alive pool
          res.on('end', () => done(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `HTTP ${status}` }));
          res.on('error', (err) => done({ ok: false, status, error: err.message }));
        },
      );
      req.on('timeout', () => {
        req.destroy(new Error(`timeout after ${timeout} ms`));
      });
      req.on('error', (err) => done({ ok: false, error: err.message }));
      req.end(payload);
    });
  }

  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

export class MqttSender implements Sender {
  private readonly clients = new Map<string, Promise<MqttClient>>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: SenderOptions) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async send(endpoint: Endpoint, message: NotificationMessage): Promise<SendResult> {
    let url: URL;
    let address: string;
    try {
      const resolved = await resolveEndpoint(endpoint.uri, this.opts.policy);
      url = resolved.url;
      address = resolved.addresses[0].address;
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const topic = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!topic) return { ok: false, error: `MQTT endpoint ${endpoint.uri} names no topic (the URI path)` };
    if (/[#+]/.test(topic)) return { ok: false, error: `MQTT topic '${topic}' must not contain wildcards` };
    const qos = Number(info(endpoint.notifierInfo, 'MQTT-QoS') ?? 0);
    if (qos !== 0 && qos !== 1 && qos !== 2) return { ok: false, error: `MQTT-QoS must be 0, 1 or 2, got '${qos}'` };
    const versionName = info(endpoint.notifierInfo, 'MQTT-Version') ?? 'mqtt5.0';
    const protocolVersion = versionName === 'mqtt3.1.1' ? 4 : versionName === 'mqtt5.0' ? 5 : undefined;
    if (!protocolVersion) return { ok: false, error: `MQTT-Version must be mqtt3.1.1 or mqtt5.0, got '${versionName}'` };
    const payload = JSON.stringify({ metadata: message.headers, body: message.body });
    let client: MqttClient;
    try {
      client = await this.client(url, address, protocolVersion);
    } catch (err) {
      return { ok: false, error: `MQTT connection to ${url.host} failed: ${(err as Error).message}` };
    }
    try {
      await withTimeout(client.publishAsync(topic, payload, { qos: qos as 0 | 1 | 2 }), this.timeoutMs, 'MQTT publish');
      return { ok: true };
    } catch (err) {
      this.drop(url, protocolVersion);
      return { ok: false, error: `MQTT publish to ${url.host}/${topic} failed: ${(err as Error).message}` };
    }
  }

  private key(url: URL, protocolVersion: number): string {
    return `${url.protocol}//${url.username}:${url.password}@${url.host}#${protocolVersion}`;
  }

  private client(url: URL, address: string, protocolVersion: 4 | 5): Promise<MqttClient> {
    const key = this.key(url, protocolVersion);
    let pending = this.clients.get(key);
    if (!pending) {
      const tls = url.protocol === 'mqtts:';
      const options: IClientOptions = {
        protocol: tls ? 'mqtts' : 'mqtt',
        // connect to the checked address; TLS still verifies the name
        host: address,
        port: Number(url.port || (tls ? 8883 : 1883)),
        protocolVersion,
        username: url.username ? decodeURIComponent(url.username) : undefined,
        password: url.password ? decodeURIComponent(url.password) : undefined,
        clientId: `smartland-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
        clean: true,
        reconnectPeriod: 0, // a lost connection fails the delivery (it is retried) and is reopened then
        connectTimeout: this.timeoutMs,
        ...(tls ? { servername: hostOf(url) } : {}),
      };
      pending = connectOnce(options, this.timeoutMs);
      this.clients.set(key, pending);
      pending.then(
        (c) => {
          const forget = () => {
            if (this.clients.get(key) === pending) this.clients.delete(key);
            c.end(true);
          };
          c.on('close', forget);
          c.on('error', forget);
        },
        () => {
          if (this.clients.get(key) === pending) this.clients.delete(key);
        },
      );
    }
    return pending;
  }

  private drop(url: URL, protocolVersion: number): void {
    const key = this.key(url, protocolVersion);
    const pending = this.clients.get(key);
    this.clients.delete(key);
    pending?.then((c) => c.end(true), () => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((p) => p.then((c) => c.endAsync(true), () => undefined).catch(() => undefined)));
  }
}

/** Picks the sender by URI scheme. */
export class Senders implements Sender {
  readonly http: HttpSender;
  readonly mqtt: MqttSender;

  constructor(opts: SenderOptions) {
    this.http = new HttpSender(opts);
    this.mqtt = new MqttSender(opts);
  }

  send(endpoint: Endpoint, message: NotificationMessage): Promise<SendResult> {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(endpoint.uri)?.[1]?.toLowerCase();
    if (scheme === 'http' || scheme === 'https') return this.http.send(endpoint, message);
    if (scheme === 'mqtt' || scheme === 'mqtts') return this.mqtt.send(endpoint, message);
    return Promise.resolve({ ok: false, error: new EndpointRefused(`unsupported endpoint scheme in ${endpoint.uri}`).message });
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.mqtt.close()]);
  }
}

/** Connects once: resolves on CONNACK, rejects on error, close or timeout (no reconnect loop). */
function connectOnce(options: IClientOptions, timeoutMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(options);
    const fail = (err: Error) => {
      cleanup();
      client.end(true);
      reject(err);
    };
    const onConnect = () => {
      cleanup();
      resolve(client);
    };
    const onError = (err: Error) => fail(err);
    const onClose = () => fail(new Error('connection closed before CONNACK'));
    const timer = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
