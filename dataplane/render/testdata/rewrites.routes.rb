# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "rw/0",
                  :path => [:prefix, "/prefix/one"],
                  :rewrite => {:host => "rewritten.example.org", :path => [:prefix, "/one"]},
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
                {
                  :name => "rw/1",
                  :path => [:prefix, "/strip-prefix"],
                  :rewrite => {:path => [:prefix, ""]},
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
                {
                  :name => "rw/2",
                  :path => [:prefix, "/full/one"],
                  :rewrite => {:path => [:full, "/one"]},
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
