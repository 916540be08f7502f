// A scripted checkout against the qrcheckout sandbox with the official stripe Node SDK, unchanged.
//
//   SANDBOX_URL=http://127.0.0.1:12111 node tests/node/checkout.mjs
//
// SANDBOX_URL is the sandbox's base address: its API answers at SANDBOX_URL/v1/... The
// Node SDK takes only a host, a port and a protocol (no base path: its resources request
// absolute /v1/... paths), so the address must be a server root, i.e. the standalone
// sandbox (`qrcheckout sandbox --host 127.0.0.1 --port PORT --data-dir DIR`), not the
// sandbox mounted under /sandbox inside the checkout service.
//
// Each step is checked with node:assert; any failure exits non-zero with the details.

import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';

import Stripe from 'stripe';

const WAIT_FOR_WEBHOOK_MS = 10_000;

function sandboxAddress() {
  const raw = process.env.SANDBOX_URL;
  if (!raw) {
    throw new Error('SANDBOX_URL is not set (e.g. http://127.0.0.1:12111)');
  }
  const url = new URL(raw);
  if (url.protocol !== 'http:') {
    throw new Error(`SANDBOX_URL must be an http:// address, got ${raw}`);
  }
  if (url.pathname.replace(/\/+$/, '') !== '' || url.search) {
    throw new Error(
      `SANDBOX_URL must be a server root, got ${raw}: the stripe Node SDK has no base-path ` +
        'option (only host, port and protocol), so run the standalone sandbox ' +
        '(`qrcheckout sandbox --port PORT`) and point SANDBOX_URL at it',
    );
  }
  return { host: url.hostname, port: Number(url.port || 80) };
}

/** A local webhook receiver on 127.0.0.1:0 that keeps every raw body it is sent. */
async function startReceiver() {
  const deliveries = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({
        method: req.method,
        path: req.url,
        headers: req.headers,
        rawBody: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"received":true}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return { server, deliveries, url: `http://127.0.0.1:${port}/webhooks/stripe` };
}

async function waitFor(what, find, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function step(name) {
  console.log(`ok - ${name}`);
}

async function main() {
  const { host, port } = sandboxAddress();
  const stripe = new Stripe('sk_test_node_sdk_checkout', {
    host,
    port,
    protocol: 'http',
    maxNetworkRetries: 0,
    timeout: 20_000,
    telemetry: false,
  });
  const receiver = await startReceiver();
  try {
    await run(stripe, receiver);
  } finally {
    receiver.server.close();
  }
  console.log('node sdk: all steps passed');
}

async function run(stripe, receiver) {
  // a. A webhook endpoint pointing at the local receiver; its secret is shown on create only.
  const endpoint = await stripe.webhookEndpoints.create({
    url: receiver.url,
    enabled_events: ['checkout.session.completed', 'checkout.session.expired'],
  });
  assert.ok(endpoint.id.startsWith('we_'), `webhook endpoint id: ${endpoint.id}`);
  assert.equal(endpoint.object, 'webhook_endpoint');
  assert.equal(endpoint.url, receiver.url);
  assert.deepEqual(endpoint.enabled_events, [
    'checkout.session.completed',
    'checkout.session.expired',
  ]);
  assert.equal(typeof endpoint.secret, 'string');
  assert.ok(endpoint.secret.startsWith('whsec_'), 'webhook endpoint secret starts with whsec_');
  const secret = endpoint.secret;
  step(`a. webhook endpoint ${endpoint.id} registered for ${receiver.url}`);

  // b. The backend snippet from the source documents, unchanged in shape.
  const line_items = [
    {
      quantity: 1,
      price_data: {
        currency: 'aud',
        unit_amount: 100,
        product_data: {
          name: 'canva test 1',
          description: 'A test product',
          images: ['https://example.com/a.png'],
        },
      },
    },
  ];
  const customer_email = 'buyer@example.com';
  const success_url = 'https://shop.example/success?session_id={CHECKOUT_SESSION_ID}';
  const cancel_url = 'https://shop.example/cancel';
  const session = await stripe.checkout.sessions.create({
    payment_method_types: ['card'],
    mode: 'payment',
    line_items,
    customer_email,
    success_url,
    cancel_url,
    shipping_address_collection: {
      allowed_countries: ['GB', 'US'],
    },
  });
  assert.ok(session.id.startsWith('cs_test_'), `session id: ${session.id}`);
  assert.equal(session.object, 'checkout.session');
  assert.equal(session.mode, 'payment');
  assert.equal(session.status, 'open');
  assert.equal(session.payment_status, 'unpaid');
  assert.equal(session.amount_total, 100);
  assert.equal(session.amount_subtotal, 100);
  assert.equal(session.currency, 'aud');
  assert.equal(session.customer_email, customer_email);
  assert.equal(session.success_url, success_url);
  assert.equal(session.cancel_url, cancel_url);
  assert.deepEqual(session.payment_method_types, ['card']);
  assert.equal(session.livemode, false);
  assert.equal(typeof session.url, 'string');
  assert.ok(/^https?:\/\//.test(session.url), `session url: ${session.url}`);
  assert.deepEqual(session.shipping_address_collection, { allowed_countries: ['GB', 'US'] });
  step(`b. checkout session ${session.id} created: 100 aud, ${session.url}`);

  // c. Retrieve the same session, then its line items.
  const fetched = await stripe.checkout.sessions.retrieve(session.id);
  assert.deepEqual(fetched, session);
  const items = await stripe.checkout.sessions.listLineItems(session.id);
  assert.equal(items.object, 'list');
  assert.equal(items.has_more, false);
  assert.equal(items.data.length, 1, `line items: ${JSON.stringify(items.data)}`);
  const [item] = items.data;
  assert.equal(item.object, 'item');
  assert.equal(item.description, 'canva test 1');
  assert.equal(item.quantity, 1);
  assert.equal(item.amount_subtotal, 100);
  assert.equal(item.amount_total, 100);
  assert.equal(item.currency, 'aud');
  assert.equal(item.price.unit_amount, 100);
  assert.equal(item.price.currency, 'aud');
  step(`c. session retrieved unchanged; line item "${item.description}" x${item.quantity} = 100 aud`);

  // d. A second session, expired on request.
  const second = await stripe.checkout.sessions.create({
    payment_method_types: ['card'],
    mode: 'payment',
    line_items,
    customer_email,
    success_url,
    cancel_url,
  });
  assert.ok(second.id.startsWith('cs_test_'), `second session id: ${second.id}`);
  assert.notEqual(second.id, session.id);
  const expired = await stripe.checkout.sessions.expire(second.id);
  assert.equal(expired.id, second.id);
  assert.equal(expired.status, 'expired');
  assert.equal(expired.payment_status, 'unpaid');
  assert.equal(expired.url, null);
  step(`d. second session ${second.id} expired`);

  // e. The checkout.session.expired event reaches the receiver, signed with the endpoint's secret.
  const delivery = await waitFor(
    `the checkout.session.expired webhook for ${second.id}`,
    () =>
      receiver.deliveries.find((d) => {
        try {
          const body = JSON.parse(d.rawBody.toString('utf8'));
          return body.type === 'checkout.session.expired' && body.data?.object?.id === second.id;
        } catch {
          return false;
        }
      }),
    WAIT_FOR_WEBHOOK_MS,
  );
  assert.equal(delivery.method, 'POST');
  const signature = delivery.headers['stripe-signature'];
  assert.equal(typeof signature, 'string', 'the delivery carries a Stripe-Signature header');
  const event = stripe.webhooks.constructEvent(delivery.rawBody, signature, secret);
  assert.ok(event.id.startsWith('evt_'), `event id: ${event.id}`);
  assert.equal(event.object, 'event');
  assert.equal(event.type, 'checkout.session.expired');
  assert.equal(event.livemode, false);
  assert.equal(event.data.object.object, 'checkout.session');
  assert.equal(event.data.object.id, second.id);
  assert.equal(event.data.object.status, 'expired');
  const tampered = Buffer.from(
    delivery.rawBody.toString('utf8').replace(second.id, session.id),
    'utf8',
  );
  assert.notDeepEqual(tampered, delivery.rawBody);
  assert.throws(
    () => stripe.webhooks.constructEvent(tampered, signature, secret),
    Stripe.errors.StripeSignatureVerificationError,
  );
  assert.throws(
    () => stripe.webhooks.constructEvent(delivery.rawBody, signature, `${secret}x`),
    Stripe.errors.StripeSignatureVerificationError,
  );
  assert.ok(
    !receiver.deliveries.some((d) => {
      const type = JSON.parse(d.rawBody.toString('utf8')).type;
      return type !== 'checkout.session.completed' && type !== 'checkout.session.expired';
    }),
    'only the enabled event types are delivered',
  );
  step(`e. webhook ${event.id} (${event.type}) verified by constructEvent; tampering rejected`);
}

main().catch((err) => {
  console.error(`node sdk: FAILED: ${err && err.stack ? err.stack : err}`);
  if (err instanceof Stripe.errors.StripeError) {
    console.error(
      `stripe error: type=${err.type} status=${err.statusCode} code=${err.code} ` +
        `param=${err.param} raw=${JSON.stringify(err.raw)}`,
    );
  }
  process.exit(1);
});
