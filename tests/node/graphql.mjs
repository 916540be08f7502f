// The first design's front-end, as written for Hasura, against qrcheckout's /v1/graphql:
// Apollo Client with graphql-ws (GraphQLWsLink, "graphql-transport-ws"), then Apollo Client
// with subscriptions-transport-ws (WebSocketLink, the legacy "graphql-ws"). Only the URL
// changes; the admin secret is the merchant's key.
//
//   SERVICE_URL=http://127.0.0.1:8000 ADMIN_SECRET=... node tests/node/graphql.mjs
//
// For each protocol: the desktop subscribes with TokenCreated, adds the token with addToken,
// the phone pays on the sandbox's page (the script posts the test card as the page would),
// and the subscription delivers "success"; a second token is cancelled with updateToken.
// Each step is checked with node:assert; any failure exits non-zero.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { ApolloClient, HttpLink, InMemoryCache, gql, split } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { WebSocketLink } from '@apollo/client/link/ws';
import { getMainDefinition } from '@apollo/client/utilities';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import WebSocket from 'ws';

const TOKEN_CREATED = gql`
  subscription TokenCreated($id: uuid!) {
    token_by_pk(id: $id) {
      id
      status
    }
  }
`;

const UPDATE_TOKEN = gql`
  mutation updateToken($id: uuid!, $status: String!) {
    update_token_by_pk(pk_columns: {id: $id}, _set: {status: $status}) {
      status
    }
  }
`;

const ADD_TOKEN = gql`
  mutation addToken($id: uuid!, $status: String!) {
    insert_token(objects: {id: $id, status: $status}) {
      returning {
        id
        status
      }
    }
  }
`;

const WAIT_MS = 15_000;

const service = process.env.SERVICE_URL;
const secret = process.env.ADMIN_SECRET;
assert.ok(service && secret, 'SERVICE_URL and ADMIN_SECRET must be set');
const httpUrl = `${service}/v1/graphql`;
const wsUrl = httpUrl.replace(/^http/, 'ws');
const headers = { 'x-hasura-admin-secret': secret };

function wsLinkFor(protocol) {
  if (protocol === 'graphql-transport-ws') {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { headers } });
    return { link: new GraphQLWsLink(client), close: () => client.dispose() };
  }
  const client = new SubscriptionClient(wsUrl, { connectionParams: { headers } }, WebSocket);
  return { link: new WebSocketLink(client), close: () => client.close() };
}

function apollo(protocol) {
  const ws = wsLinkFor(protocol);
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === OperationTypeNode.SUBSCRIPTION;
    },
    ws.link,
    new HttpLink({ uri: httpUrl, headers }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  return { client, close: () => { client.stop(); ws.close(); } };
}

// Resolves with the first subscription result for which `wanted(data)` holds.
function waitFor(observable, wanted) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no such subscription result in time')), WAIT_MS);
    const seen = [];
    const subscription = observable.subscribe({
      next(result) {
        seen.push(result.data);
        if (result.error) {
          clearTimeout(timer);
          subscription.unsubscribe();
          reject(result.error);
        } else if (wanted(result.data)) {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve(seen);
        }
      },
      error(error) {
        clearTimeout(timer);
        reject(error);
      },
    });
  });
}

// The phone: scan the QR link, then pay on the sandbox's hosted page with the test card.
async function pay(tokenId) {
  const scanned = await fetch(`${service}/t/${tokenId}`, { redirect: 'manual' });
  assert.equal(scanned.status, 303, `scan answered ${scanned.status}`);
  const form = new URLSearchParams({
    number: '4242 4242 4242 4242', expiry: '12 / 34', cvc: '123', email: 'buyer@example.com',
  });
  const paid = await fetch(scanned.headers.get('location'), { method: 'POST', body: form, redirect: 'manual' });
  assert.ok(paid.status < 400, `the pay page answered ${paid.status}`);
}

async function run(protocol) {
  const { client, close } = apollo(protocol);
  try {
    const id = randomUUID();
    const added = await client.mutate({ mutation: ADD_TOKEN, variables: { id, status: 'inprogress' } });
    assert.deepEqual(added.data.insert_token.returning.map(({ id, status }) => ({ id, status })), [
      { id, status: 'inprogress' },
    ]);

    const live = client.subscribe({ query: TOKEN_CREATED, variables: { id }, fetchPolicy: 'no-cache' });
    const inProgress = waitFor(live, (data) => data?.token_by_pk?.status === 'inprogress');
    await inProgress;
    const success = waitFor(
      client.subscribe({ query: TOKEN_CREATED, variables: { id }, fetchPolicy: 'no-cache' }),
      (data) => data?.token_by_pk?.status === 'success',
    );
    await pay(id);
    const seen = await success;
    assert.equal(seen.at(-1).token_by_pk.id, id);

    const other = randomUUID();
    await client.mutate({ mutation: ADD_TOKEN, variables: { id: other, status: 'inprogress' } });
    const cancelled = await client.mutate({ mutation: UPDATE_TOKEN, variables: { id: other, status: 'cancelled' } });
    assert.equal(cancelled.data.update_token_by_pk.status, 'cancelled');
    console.log(`${protocol}: subscribed, added, paid -> success; cancelled`);
  } finally {
    close();
  }
}

for (const protocol of ['graphql-transport-ws', 'graphql-ws']) {
  await run(protocol);
}
console.log('graphql: all steps passed');
process.exit(0);
