/** Integration tests run against real services started by the same script users run. */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('bash', ['scripts/services.sh', 'up'], { stdio: 'inherit' });
}
