# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {80 => {:tls => false, :listeners => [{:exact => true, :vhosts => []}]}},
  :buckets => 1,
  :shards => "b6a31da3a2043fe5.names",
  :resp => [["r538502cb1852b1ec", [[:add, "x-gateway", "nghttpx"]]]],
}
# routes.d/034eff793baaac93.rb
# nghttpx-gateway route table shard, read by router.rb. Generated; do not edit.
{
  "grpc.example.com" => [
    [
      80,
      0,
      true,
      [
        {
          :name => "grpcroute/default/g/rule/0/match/0",
          :path => [:exact, "/pkg.Svc/Get"],
          :headers => [["version", "two"]],
          :backends => [
            {:weight => 3, :cluster => "svc-default-h2c-8080-d675da59"},
            {:weight => 1, :status => 503},
          ],
        },
        {
          :name => "grpcroute/default/g/rule/1/match/0",
          :path => [:prefix, "/pkg.Svc"],
          :backends => [
            {
              :weight => 1,
              :cluster => "svc-default-plain-80-b80a49de",
              :req => [[:set, "x-route", "svc"]],
              :resp => "r538502cb1852b1ec",
            },
            {
              :weight => 1,
              :cluster => "svc-default-secure-443-e85b9769",
              :req => [[:set, "x-route", "svc"]],
              :resp => "r538502cb1852b1ec",
            },
          ],
        },
        {:name => "grpcroute/default/g/rule/2/match/0", :path => [:prefix, ""], :status => 503},
      ],
    ],
  ],
  "web.example.com" => [
    [
      80,
      0,
      true,
      [
        {
          :name => "httproute/default/web/rule/0/match/0",
          :path => [:prefix, ""],
          :backends => [
            {:weight => 1, :cluster => "svc-default-plain-80-70955966"},
            {:weight => 1, :status => 500},
          ],
        },
      ],
    ],
  ],
}
