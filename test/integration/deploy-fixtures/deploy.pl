# A Custom strategy deployer: rolls $OPENSHIFT_DEPLOYMENT_NAME out through Slipway's API
# with the scoped token it is given, then scales the previous revision down. Debian
# minbase has only perl-base, so HTTP is spoken over a plain socket.
use strict;
use warnings;
use IO::Socket::INET;

$| = 1;
my ($host, $port) = ($ENV{SLIPWAY_API_URL} // '') =~ m{^http://([^:/]+):(\d+)} or die "no SLIPWAY_API_URL\n";
my $ns = $ENV{OPENSHIFT_DEPLOYMENT_NAMESPACE};
my $rc = $ENV{OPENSHIFT_DEPLOYMENT_NAME};
my $want = $ENV{SLIPWAY_DESIRED_REPLICAS} + 0;
my $prev = $ENV{SLIPWAY_PREVIOUS_DEPLOYMENT} // '';
print "custom deployer for $ns/$rc, greeting $ENV{GREETING}\n";

sub call {
  my ($method, $path, $body) = @_;
  my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp') or die "cannot reach the API: $!\n";
  $body //= '';
  print $s "$method $path HTTP/1.1\r\nHost: $host\r\nAuthorization: Bearer $ENV{SLIPWAY_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
  local $/;
  my $response = <$s>;
  close $s;
  my ($code) = $response =~ m{^HTTP/1\.\d (\d+)};
  my ($content) = $response =~ m{\r\n\r\n(.*)$}s;
  return ($code, $content // '');
}

sub scale {
  my ($name, $n) = @_;
  my ($code, $content) = call('PUT', "/api/v1/namespaces/$ns/replicationcontrollers/$name/scale", qq({"kind":"Scale","spec":{"replicas":$n}}));
  die "scaling $name answered $code: $content\n" unless $code == 200;
  print "scaled $name to $n\n";
}

# `perl deploy.pl wrap`: customParams around Rolling. Deploy halfway through Slipway's
# openshift-deploy, look, and leave the rest to Slipway.
if (($ARGV[0] // '') eq 'wrap') {
  my $dc = $ENV{SLIPWAY_DEPLOYMENT_CONFIG};
  print "strategy $ENV{SLIPWAY_STRATEGY}\n";
  my ($code, $content) = call('POST', "/apis/apps.openshift.io/v1/namespaces/$ns/deploymentconfigs/$dc/deploy", '{"until":"50%"}');
  die "deploy until 50% answered $code: $content\n" unless $code == 200;
  my (undef, $new) = call('GET', "/api/v1/namespaces/$ns/replicationcontrollers/$rc/scale");
  my (undef, $old) = call('GET', "/api/v1/namespaces/$ns/replicationcontrollers/$prev/scale");
  my ($newReady) = $new =~ /"readyReplicas":(\d+)/;
  my ($oldWanted) = $old =~ /"spec":\{"replicas":(\d+)/;
  print "halfway: $rc has $newReady ready, $prev keeps $oldWanted\n";
  exit 0;
}

my ($secrets) = call('GET', "/api/v1/namespaces/$ns/secrets");
print "listing secrets answered $secrets\n";

scale($rc, $want);
my $ready = 0;
for (1 .. 90) {
  my ($code, $content) = call('GET', "/api/v1/namespaces/$ns/replicationcontrollers/$rc/scale");
  ($ready) = $content =~ /"readyReplicas":(\d+)/;
  $ready //= 0;
  last if $ready >= $want;
  sleep 1;
}
die "only $ready of $want replicas became ready\n" if $ready < $want;
print "$rc has $ready ready replicas\n";
scale($prev, 0) if $prev;
exit 0;
