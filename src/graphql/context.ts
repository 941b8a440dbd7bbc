/** Per-request context of the GraphQL gateway. */
import type { Gateway } from '../serving/gateway-services';
import type { Role } from '../serving/auth';

export interface GatewayContext {
  services: Gateway;
  role: Role;
  requestId: string;
}
